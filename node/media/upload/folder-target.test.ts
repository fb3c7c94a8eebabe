import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { isPressmeshError } from '../../../protocol/errors.ts'
import { pseudoRandomBytes } from '../../../test/helpers/random.ts'
import { tempDir } from '../../../test/helpers/temp.ts'
import type { MediumFile } from '../medium.ts'
import { folderTarget } from './folder-target.ts'

function fileOf(name: string, bytes: Buffer, options: { size?: number; failAt?: number } = {}) {
  return {
    name,
    size: options.size ?? bytes.length,
    async *bytes() {
      for (let at = 0; at < bytes.length; at += 100_000) {
        if (options.failAt !== undefined && at >= options.failAt) {
          throw new Error('source failed')
        }

        yield bytes.subarray(at, at + 100_000)
      }
    },
  } satisfies MediumFile
}

describe('writing media to a folder', () => {
  it('writes the file under its name and returns its sums', async (t) => {
    const dir = await tempDir(t)
    const bytes = pseudoRandomBytes(3_000_000, 2)

    const digest = await folderTarget({ dir }).store(fileOf('a.img', bytes))

    assert.deepEqual(await readdir(dir), ['a.img'])
    assert.deepEqual(await readFile(join(dir, 'a.img')), bytes)
    assert.equal(digest.sha256, createHash('sha256').update(bytes).digest('hex'))
  })

  it('leaves nothing behind when the source fails part-way', async (t) => {
    const dir = await tempDir(t)
    const file = fileOf('a.img', pseudoRandomBytes(3_000_000, 2), { failAt: 1_500_000 })

    await assert.rejects(folderTarget({ dir }).store(file), /source failed/)
    assert.deepEqual(await readdir(dir), [])
  })

  it('refuses a file whose bytes differ in length from the size it announced', async (t) => {
    const dir = await tempDir(t)
    const file = fileOf('a.img', pseudoRandomBytes(1000, 2), { size: 1001 })

    await assert.rejects(folderTarget({ dir }).store(file), (err) =>
      isPressmeshError(err, 'MEDIA_SIZE_MISMATCH'),
    )
    assert.deepEqual(await readdir(dir), [])
  })
})
