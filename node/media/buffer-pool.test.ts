import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BufferPool, isPooled, release, retain } from './buffer-pool.ts'

const MIB = 1024 * 1024

describe('the pool of shared buffers for chunk reads', () => {
  it('hands out shared memory of exactly the size asked for', () => {
    const pool = new BufferPool()

    for (const size of [0, 1, 65_536, 65_537, 3 * MIB + 5]) {
      const bytes = pool.acquire(size)
      assert.equal(bytes.length, size)
      assert.ok(bytes.buffer instanceof SharedArrayBuffer)
      assert.ok(isPooled(bytes))
    }
  })

  it('uses memory again only once every reference to it is released', () => {
    const pool = new BufferPool()
    const first = pool.acquire(MIB)
    first.fill(7)

    assert.equal(retain(first), true)
    release(first)
    const second = pool.acquire(MIB)
    assert.notEqual(second.buffer, first.buffer, 'a second holder still has the first buffer')
    assert.ok(first.every((byte) => byte === 7))

    release(first.subarray(10, 20))
    assert.equal(isPooled(first), false)
    const third = pool.acquire(MIB - 3)
    assert.equal(third.buffer, first.buffer)
    assert.deepEqual(pool.stats(), { allocated: 2, reused: 1, free: 0, freeBytes: 0 })
  })

  it('refuses to release or retain memory that is already back in the pool', () => {
    const pool = new BufferPool()
    const bytes = pool.acquire(1000)
    release(bytes)

    assert.throws(() => release(bytes), /already released/)
    assert.throws(() => retain(bytes), /already released/)
  })

  it('leaves memory it did not hand out alone', () => {
    const plain = Buffer.alloc(100)
    const shared = Buffer.from(new SharedArrayBuffer(100))

    assert.equal(retain(plain), false)
    assert.equal(retain(shared), false)
    release(plain)
    release(shared)
    assert.equal(isPooled(shared), false)
  })

  it('keeps no more than its limit of free memory, and no buffer above the largest slab', () => {
    const pool = new BufferPool({ maxFreeBytes: 2 * MIB, maxSlabBytes: 4 * MIB })
    const held = [pool.acquire(MIB), pool.acquire(MIB), pool.acquire(MIB), pool.acquire(5 * MIB)]

    for (const bytes of held) {
      release(bytes)
    }

    assert.deepEqual(pool.stats(), { allocated: 4, reused: 0, free: 2, freeBytes: 2 * MIB })
    const again = [pool.acquire(MIB), pool.acquire(MIB), pool.acquire(MIB)]
    assert.equal(pool.stats().reused, 2)
    assert.equal(new Set(again.map((bytes) => bytes.buffer)).size, 3)
  })

  it('serves a request from a free buffer one size larger, not from a much larger one', () => {
    const pool = new BufferPool()
    const big = pool.acquire(4 * MIB)
    const medium = pool.acquire(2 * MIB)
    release(big)
    release(medium)

    assert.equal(pool.acquire(MIB).buffer, medium.buffer)
    assert.notEqual(pool.acquire(MIB).buffer, big.buffer)
  })
})
