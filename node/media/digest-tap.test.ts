import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { HashWorker } from '../../protocol/chunker/whole-hash.ts'
import { blake3Hex } from '../../protocol/hash.ts'
import { pseudoRandomBytes, splitInto } from '../../test/helpers/random.ts'
import { BufferPool, release } from './buffer-pool.ts'
import { DigestTap, markUnchanging, tapped } from './digest-tap.ts'

function digestOf(bytes: Uint8Array) {
  return {
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    blake3: blake3Hex(bytes),
  }
}

describe('hashing media on the way out', () => {
  it('gives the same SHA-256 and BLAKE3 inline and on the worker, for any pieces', async (t) => {
    const worker = new HashWorker()
    t.after(() => worker.stop())
    const bytes = pseudoRandomBytes(23 * 1024 * 1024 + 11, 8)
    const expected = digestOf(bytes)

    for (const sizes of [[512], [512, 1, 9 * 1024 * 1024, 4096], [4 * 1024 * 1024]]) {
      const inline = new DigestTap()
      const threaded = new DigestTap(worker)

      for (const piece of splitInto(bytes, sizes)) {
        inline.update(piece)
        await threaded.update(piece)
      }

      assert.deepEqual(await inline.digest(), expected)
      assert.deepEqual(await threaded.digest(), expected, `pieces of ${sizes.join(', ')}`)
    }
  })

  it('hashes pieces in shared memory where they are, marked unchanging or not', async (t) => {
    const worker = new HashWorker()
    t.after(() => worker.stop())
    const bytes = pseudoRandomBytes(20 * 1024 * 1024 + 3, 9)
    const expected = digestOf(bytes)
    const sizes = [512, 70_000, 512, 3 * 1024 * 1024, 100, 1024 * 1024, 65_536]
    const pieces = [...splitInto(bytes, sizes)].map((piece, i) => {
      const shared = Buffer.from(new SharedArrayBuffer(piece.length))
      shared.set(piece)

      if (i % 3 === 0) {
        markUnchanging(shared)
      }

      return i % 4 === 3 ? Buffer.from(piece) : shared
    })

    async function* source() {
      yield* pieces
    }

    const tap = new DigestTap(worker)
    let passed = 0
    for await (const piece of tapped(source(), tap)) {
      passed += piece.length
    }

    assert.equal(passed, bytes.length)
    assert.deepEqual(await tap.digest(), expected)
  })

  it('keeps pooled pieces from reuse until hashed, however soon they are released', async (t) => {
    const worker = new HashWorker()
    t.after(() => worker.stop())
    const bytes = pseudoRandomBytes(40 * 1024 * 1024 + 7, 10)
    const expected = digestOf(bytes)
    const pool = new BufferPool()
    const sizes = [1024 * 1024, 300, 2 * 1024 * 1024 + 1, 64 * 1024, 40_000, 512 * 1024]

    async function* source() {
      for (const piece of splitInto(bytes, sizes)) {
        const pooled = pool.acquire(piece.length)
        pooled.set(piece)
        yield pooled
      }
    }

    const tap = new DigestTap(worker)
    for await (const piece of tapped(source(), tap)) {
      // The holder is done at once and the memory it gave back is written over straight away:
      // only memory that nobody holds any more may come back.
      release(piece)
      pool.acquire(piece.length).fill(0xee)
    }

    assert.deepEqual(await tap.digest(), expected)
    const stats = pool.stats()
    assert.ok(stats.reused > 0, 'released pieces are used again')
  })
})
