import assert from 'node:assert/strict'
import { open, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { pseudoRandomBytes } from '../../test/helpers/random.ts'
import { tempDir } from '../../test/helpers/temp.ts'
import { blake3OfPieces } from '../hash.ts'
import { digestStream } from './digest.ts'
import { chunkerParams } from './params.ts'
import { ReadRing } from './read-ring.ts'
import { HashWorker } from './whole-hash.ts'

describe('the read ring', () => {
  for (const maxPendingChunks of [1, 3]) {
    it(`never reuses bytes that slow chunk writers (${maxPendingChunks} at once) or the hashing worker still need`, async (t) => {
      const dir = await tempDir(t)
      const file = join(dir, 'master.bin')
      const data = pseudoRandomBytes(24 * 1024 * 1024, 21)
      await writeFile(file, data)

      const params = chunkerParams({
        minSize: 64 * 1024,
        avgSize: 256 * 1024,
        maxSize: 1024 * 1024,
      })
      const expected = await digestStream([data], params)
      const worker = new HashWorker()
      t.after(() => worker.stop())

      // Room for the largest chunk, the chunks in flight and a few reads: the ring wraps ~5 times.
      const ring = new ReadRing(5 * 1024 * 1024)
      const handle = await open(file, 'r')
      t.after(() => handle.close())
      let checked = 0

      const digest = await digestStream(ring.readFile(handle, data.length, 512 * 1024), params, {
        hasher: worker.open(),
        release: (offset) => ring.release(offset),
        maxPendingChunks,
        onChunk: async (chunk) => {
          await sleep(1 + (checked % 3))
          assert.equal(
            blake3OfPieces(chunk.pieces),
            chunk.id,
            `chunk at ${chunk.offset} overwritten`,
          )
          checked++
        },
      })

      assert.deepEqual(digest, expected)
      assert.equal(checked, expected.chunks.length)
    })
  }
})
