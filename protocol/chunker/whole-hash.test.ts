import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { pseudoRandomBytes, splitInto } from '../../test/helpers/random.ts'
import { blake3Hex } from '../hash.ts'
import { HashWorker, inlineWholeHasher, partialHasher } from './whole-hash.ts'

function expectedOf(bytes: Uint8Array) {
  return { blake3: blake3Hex(bytes), sha256: createHash('sha256').update(bytes).digest('hex') }
}

function sharedCopy(bytes: Uint8Array): Uint8Array {
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.length))
  shared.set(bytes)
  return shared
}

describe('whole-file hashing', () => {
  it('gives the same digests on one thread, split over two, and inline', async (t) => {
    const worker = new HashWorker()
    t.after(() => worker.stop())
    const bytes = pseudoRandomBytes(9 * 1024 * 1024 + 5, 3)
    const pieces = [...splitInto(bytes, [1, 70_000, 2 * 1024 * 1024, 512])]

    for (const hasher of [inlineWholeHasher(), worker.open(), worker.open({ split: true })]) {
      for (const piece of pieces) {
        await hasher.update(piece.length % 2 === 0 ? sharedCopy(piece) : piece)
      }

      assert.deepEqual(await hasher.digest(), expectedOf(bytes))
    }
  })

  it('keeps streams apart when several are open at once, split or not', async (t) => {
    const worker = new HashWorker()
    t.after(() => worker.stop())
    const files = [0, 1, 2, 3].map((seed) => sharedCopy(pseudoRandomBytes(3 * 1024 * 1024, seed)))
    const hashers = files.map((_, i) => worker.open({ split: i % 2 === 0 }))
    const updates: Array<Promise<void> | undefined> = []

    for (let offset = 0; offset < files[0].length; offset += 1024 * 1024) {
      files.forEach((file, i) => {
        updates.push(hashers[i].update(file.subarray(offset, offset + 1024 * 1024)))
      })
    }

    await Promise.all(updates)
    const digests = await Promise.all(hashers.map((hasher) => hasher.digest()))
    assert.deepEqual(digests, files.map(expectedOf))
  })

  it('digests an empty stream split over two threads', async (t) => {
    const worker = new HashWorker()
    t.after(() => worker.stop())

    assert.deepEqual(await worker.open({ split: true }).digest(), expectedOf(new Uint8Array()))
  })

  it('computes only the digest a thread is asked for', () => {
    const bytes = pseudoRandomBytes(1000, 4)
    const sha256 = partialHasher('sha256')
    const blake3 = partialHasher('blake3')
    sha256.update(bytes)
    blake3.update(bytes)

    assert.deepEqual(sha256.digest(), { sha256: expectedOf(bytes).sha256, blake3: undefined })
    assert.deepEqual(blake3.digest(), { blake3: expectedOf(bytes).blake3, sha256: undefined })
  })
})
