import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import { chunkerParams } from '../../../protocol/chunker/params.ts'
import { MANIFEST_VERSION } from '../../../protocol/manifest.ts'
import {
  META,
  pycdlibOpen,
  requireJudge,
  sevenZipTest,
  writeMediumFile,
} from '../../../test/helpers/iso-judges.ts'
import { randomEntries } from '../../../test/helpers/iso-random-master.ts'
import { tempDir } from '../../../test/helpers/temp.ts'
import type { ContentSource } from '../medium.ts'
import { isoMedium } from './index.ts'

const run = promisify(execFile)

/** File contents for masters that exist only as manifests: each file is its size in zeros. */
const zeros: ContentSource = {
  read: async function* (entry) {
    yield Buffer.alloc(entry.size)
  },
}

/** Every path xorriso finds in the image's Rock Ridge tree (`-find /` quotes one per line). */
async function xorrisoPaths(image: string): Promise<string[]> {
  requireJudge('xorriso')
  const { stdout } = await run('xorriso', ['-indev', image, '-find', '/'], {
    maxBuffer: 64 * 1024 * 1024,
  })

  return stdout
    .split('\n')
    .filter((line) => line.startsWith("'/") && line !== "'/'")
    .map((line) => line.slice(2, -1))
    .sort()
}

describe('ISO images of random masters', () => {
  it('take exactly the announced size and list every path to every judge', async (t) => {
    const work = await tempDir(t)
    requireJudge('bsdtar')

    for (const seed of [21, 22, 23, 24, 25]) {
      const files = randomEntries(seed, 300, 500)
      const manifest = { version: MANIFEST_VERSION, chunker: chunkerParams(), files } as const
      const [file] = isoMedium({ manifest, source: zeros, meta: META }, { name: `r${seed}` }).files
      const image = join(work, file.name)

      assert.equal(await writeMediumFile(file, image), file.size)
      const report = await pycdlibOpen(image)
      const shown = files.filter((entry) => entry.type !== 'symlink')
      assert.ok(report.isoLevels <= 8)
      assert.equal(report.jolietPaths.length, shown.length, `Joliet, seed ${seed}`)

      const { stdout } = await run('bsdtar', ['-tf', image], { maxBuffer: 64 * 1024 * 1024 })
      const listed = stdout
        .split('\n')
        .filter((line) => line !== '' && line !== '.' && line !== './')
        .map((line) => line.replace(/\/$/, ''))
      const expected = files.map((entry) => entry.path).sort()
      assert.deepEqual(listed.sort(), expected, `bsdtar, seed ${seed}`)
      assert.deepEqual(await xorrisoPaths(image), expected, `xorriso, seed ${seed}`)
      assert.match(await sevenZipTest(image), /Everything is Ok/)
    }
  })
})
