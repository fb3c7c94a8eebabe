import assert from 'node:assert/strict'
import { mkdir, open, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { FileEntry } from '../../../protocol/manifest.ts'
import {
  isoinfoList,
  pycdlibOpen,
  sevenZipTest,
  sha256OfBsdtarMember,
  sha256OfFile,
  storedMaster,
  writeMediumFile,
  xorrisoExtract,
} from '../../../test/helpers/iso-judges.ts'
import { pseudoRandomBytes } from '../../../test/helpers/random.ts'
import { tempDir } from '../../../test/helpers/temp.ts'
import { MAX_EXTENT_BYTES } from './constants.ts'
import { isoMedium } from './index.ts'

const MiB = 1024 * 1024
const BIG_BYTES = 4 * 1024 * MiB + MiB

/** A repeating pattern: cheap in the chunk store, as its chunks repeat. Written in pieces. */
async function writePatternFile(path: string, size: number): Promise<void> {
  const block = pseudoRandomBytes(MiB, 11)
  const handle = await open(path, 'w')

  try {
    for (let at = 0; at < size; at += block.length) {
      await handle.write(block, 0, Math.min(block.length, size - at))
    }
  } finally {
    await handle.close()
  }
}

describe('ISO files of 4 GiB and more', () => {
  it('are recorded as several extents that every judge reads back whole', async (t) => {
    const root = await tempDir(t)
    const work = await tempDir(t)
    await mkdir(join(root, 'media'))
    await writePatternFile(join(root, 'media', 'big.bin'), BIG_BYTES)
    await writeFile(join(root, 'media', 'zz-after.txt'), 'the file after the big one\n')

    const input = await storedMaster(t, root)
    await rm(join(root, 'media', 'big.bin'))
    const big = input.manifest.files.find((entry) => entry.path === 'media/big.bin') as FileEntry
    assert.ok(big.size > MAX_EXTENT_BYTES)

    const [file] = isoMedium(input, { name: 'big' }).files
    const image = join(work, file.name)
    assert.equal(await writeMediumFile(file, image), file.size)

    assert.equal(await sha256OfBsdtarMember(image, 'media/big.bin'), big.sha256)
    assert.ok((await pycdlibOpen(image)).rockRidge)
    const listing = await isoinfoList(image)
    assert.equal(listing.match(/ BIG\.BIN;1/g)?.length, 2, 'two extents, two records')
    assert.match(await sevenZipTest(image), /Everything is Ok/)

    const out = join(work, 'out')
    await mkdir(out)
    await xorrisoExtract(image, out)
    await rm(image)
    assert.equal(await sha256OfFile(join(out, 'media', 'big.bin')), big.sha256)
    await rm(join(out, 'media', 'big.bin'))
    assert.equal(
      await sha256OfFile(join(out, 'media', 'zz-after.txt')),
      (input.manifest.files.find((e) => e.path === 'media/zz-after.txt') as FileEntry).sha256,
    )
  })
})
