import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { imgMedium } from '../node/media/img/index.ts'
import { tarMedium } from '../node/media/tar/index.ts'
import { assertCopiesOut, assertFsckClean, extractAndCompare } from './helpers/media-judges.ts'
import { indexTree, manySmallFiles, setTimes, tool, writeMediumFile } from './helpers/media.ts'
import { tempDir } from './helpers/temp.ts'

// One tree of 10,000 small files, indexed once (that is most of the time), judged as TAR and IMG.

describe('a tree of 10,000 small files', () => {
  it('becomes a tar both tars extract and an img that fsck.fat and mtools accept', async (t) => {
    const dir = await tempDir(t)
    const source = join(dir, 'src')
    await manySmallFiles(source, 10_000)
    await setTimes(source)
    const { input } = await indexTree(t, source)

    await t.test('as tar', async () => {
      const medium = tarMedium(input, { name: 'many' })
      const archive = join(dir, 'many.tar')

      assert.equal(await writeMediumFile(medium.files[0], archive), medium.files[0].size)
      const listing = tool('bsdtar', ['-tf', archive], 'libarchive-tools')
      assert.equal(listing.code, 0, listing.stderr)
      assert.equal(listing.stdout.trim().split('\n').length, 10_001)
      await extractAndCompare(archive, source, dir)
    })

    await t.test('as img', async () => {
      const medium = imgMedium(input, { name: 'many' })
      const image = join(dir, 'many.img')
      const out = join(dir, 'out-img')
      await mkdir(out)

      assert.equal(await writeMediumFile(medium.files[0], image), medium.files[0].size)
      assertFsckClean(image)
      assertCopiesOut(image, source, out)
    })
  })
})
