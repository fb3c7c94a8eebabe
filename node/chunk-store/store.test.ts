import assert from 'node:assert/strict'
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { chunkerParams } from '../../protocol/chunker/params.ts'
import { blake3Hex } from '../../protocol/hash.ts'
import { indexLocalMaster } from '../../protocol/local-master.ts'
import { pseudoRandomBytes } from '../../test/helpers/random.ts'
import { tempDir } from '../../test/helpers/temp.ts'
import { exportMaster } from './reassemble.ts'
import { ChunkStore } from './store.ts'

function chunk(seed: number, size = 1000): { id: string; bytes: Buffer } {
  const bytes = pseudoRandomBytes(size, seed)
  return { id: blake3Hex(bytes), bytes }
}

async function openStore(dir: string, capacityBytes?: number, now?: () => number) {
  return ChunkStore.open({ dir, capacityBytes, now })
}

describe('the chunk store', () => {
  it('stores a chunk once when many writers race to put it', async (t) => {
    const dir = await tempDir(t)
    const store = await openStore(dir)
    t.after(() => store.close())
    const { id, bytes } = chunk(1)
    const others = Array.from({ length: 20 }, (_, i) => chunk(100 + i))

    const results = await Promise.all([
      ...Array.from({ length: 50 }, () => store.put(id, bytes)),
      ...others.map((other) =>
        store.put(other.id, [other.bytes.subarray(0, 10), other.bytes.subarray(10)]),
      ),
    ])

    assert.equal(results.slice(0, 50).filter(Boolean).length, 1)
    assert.ok(results.slice(50).every(Boolean))
    assert.deepEqual(await store.get(id), bytes)
    assert.equal(store.stats().chunks, 21)
    assert.equal(store.stats().bytes, 21 * 1000)
    assert.deepEqual(await readdir(join(dir, 'chunks', 'tmp')), [])
  })

  it('keeps every chunk across a close and a reopen', async (t) => {
    const dir = await tempDir(t)
    const first = await openStore(dir)
    const items = Array.from({ length: 30 }, (_, i) => chunk(i + 1, 5000))
    await Promise.all(items.map((item) => first.put(item.id, item.bytes)))
    await first.close()

    const second = await openStore(dir)
    t.after(() => second.close())
    assert.equal(second.stats().chunks, 30)
    for (const item of items) {
      assert.deepEqual(await second.get(item.id), item.bytes)
    }
  })

  it('refuses bytes that do not match the id', async (t) => {
    const store = await openStore(await tempDir(t))
    t.after(() => store.close())
    const { id } = chunk(1)

    await assert.rejects(store.put(id, chunk(2).bytes), { code: 'STORE_CHUNK_MISMATCH' })
    assert.equal(store.has(id), false)
  })

  it('evicts least recently used unpinned chunks to stay under its capacity', async (t) => {
    let clock = 0
    const store = await openStore(await tempDir(t), 5000, () => ++clock)
    t.after(() => store.close())
    const items = Array.from({ length: 5 }, (_, i) => chunk(i + 1))

    for (const item of items) {
      await store.put(item.id, item.bytes)
    }

    await store.pin('task-1', [items[0].id])
    await store.get(items[1].id)
    const extra = chunk(99, 2000)
    await store.put(extra.id, extra.bytes)

    assert.ok(store.stats().bytes <= 5000)
    assert.equal(store.has(items[0].id), true, 'a pinned chunk stays')
    assert.equal(store.has(items[1].id), true, 'a recently read chunk stays')
    assert.equal(store.has(items[2].id), false, 'the oldest unpinned chunk goes')
    assert.equal(store.has(items[3].id), false)
    assert.equal(store.has(extra.id), true)
  })

  it('remembers which chunks were read recently across a close and a reopen', async (t) => {
    const dir = await tempDir(t)
    let clock = 0
    const first = await openStore(dir, 3000, () => ++clock)
    const items = Array.from({ length: 3 }, (_, i) => chunk(i + 1))

    for (const item of items) {
      await first.put(item.id, item.bytes)
    }

    await first.get(items[0].id)
    await first.close()

    const second = await openStore(dir, 3000, () => ++clock)
    t.after(() => second.close())
    const extra = chunk(99)
    await second.put(extra.id, extra.bytes)

    assert.equal(second.has(items[0].id), true, 'the chunk read last session stays')
    assert.equal(second.has(items[1].id), false, 'the least recently used chunk goes')
    assert.equal(second.has(items[2].id), true)
  })

  it('does not bring back a chunk deleted after it was read', async (t) => {
    const dir = await tempDir(t)
    const first = await openStore(dir)
    const [a, b] = [chunk(1), chunk(2)]
    await first.put(a.id, a.bytes)
    await first.put(b.id, b.bytes)

    await first.get(a.id)
    await first.get(b.id)
    await first.delete(a.id)
    await first.close()

    const second = await openStore(dir)
    t.after(() => second.close())
    assert.equal(second.has(a.id), false)
    assert.equal(second.stats().chunks, 1)
    assert.equal(second.stats().bytes, 1000)
  })

  it('serves the latest chunks given to keep from memory, within its byte bound', async (t) => {
    const dir = await tempDir(t)
    const store = await ChunkStore.open({ dir, recentBytes: 2500 })
    t.after(() => store.close())
    const [a, b, c, d] = [chunk(61), chunk(62), chunk(63), chunk(64)]

    const pieces = [a.bytes.subarray(0, 300), a.bytes.subarray(300)]
    await store.put(a.id, pieces, { keep: true })
    await store.put(b.id, b.bytes, { keep: true })
    await store.put(d.id, d.bytes)

    // The very pieces it was given, no copy and no disk read; get() still gives one buffer.
    assert.equal((await store.read(a.id))[1], pieces[1])
    assert.deepEqual(await store.get(a.id), a.bytes)
    // Not given to keep: read from disk.
    assert.notEqual((await store.read(d.id))[0], d.bytes)
    assert.deepEqual(Buffer.concat(await store.read(d.id)), d.bytes)

    // A third kept chunk passes the 2,500-byte bound: the oldest leaves memory, not the store.
    await store.put(c.id, c.bytes, { keep: true })
    assert.notEqual((await store.read(a.id))[1], pieces[1])
    assert.deepEqual(Buffer.concat(await store.read(a.id)), a.bytes)
    assert.equal((await store.read(c.id))[0], c.bytes)
    // Counted by where each read was answered from: a, a, c from memory; d, d, a, a from disk.
    assert.equal(store.stats().readsFromMemory, 3)
    assert.equal(store.stats().readsFromDisk, 4)

    // A deleted chunk is gone from memory too.
    await store.delete(c.id)
    await assert.rejects(store.read(c.id), { code: 'STORE_CHUNK_MISSING' })
  })

  it('reads a chunk into the memory the caller allocates', async (t) => {
    const store = await openStore(await tempDir(t))
    t.after(() => store.close())
    const { id, bytes } = chunk(1, 70_000)
    await store.put(id, bytes)

    const read = await store.get(id, {
      allocate: (size) => Buffer.from(new SharedArrayBuffer(size)) as unknown as Buffer,
    })

    assert.ok(read.buffer instanceof SharedArrayBuffer)
    assert.deepEqual(Buffer.from(read), bytes)
  })

  it('notices a chunk file cut short or grown on disk before serving it', async (t) => {
    const dir = await tempDir(t)
    const first = await openStore(dir)
    const [a, b] = [chunk(1), chunk(2)]
    await first.put(a.id, a.bytes)
    await first.put(b.id, b.bytes)
    await first.close()

    await writeFile(join(dir, 'chunks', a.id.slice(0, 2), a.id), a.bytes.subarray(0, 999))
    await writeFile(join(dir, 'chunks', b.id.slice(0, 2), b.id), Buffer.concat([b.bytes, b.bytes]))

    const second = await openStore(dir)
    t.after(() => second.close())
    await assert.rejects(second.get(a.id), { code: 'STORE_CHUNK_CORRUPT' })
    await assert.rejects(second.get(b.id), { code: 'STORE_CHUNK_CORRUPT' })
    assert.equal(second.stats().chunks, 0)
  })

  it('answers STORE_FULL when everything is pinned, and frees space on unpin', async (t) => {
    const store = await openStore(await tempDir(t), 3000)
    t.after(() => store.close())
    const items = Array.from({ length: 3 }, (_, i) => chunk(i + 1))

    for (const item of items) {
      await store.put(item.id, item.bytes)
    }

    await store.pin(
      'task-1',
      items.map((item) => item.id),
    )
    const extra = chunk(50)
    await assert.rejects(store.put(extra.id, extra.bytes), { code: 'STORE_FULL' })

    await store.unpin('task-1')
    assert.equal(await store.put(extra.id, extra.bytes), true)
    assert.ok(store.stats().bytes <= 3000)
  })

  it('keeps pins across a restart', async (t) => {
    const dir = await tempDir(t)
    const first = await openStore(dir, 2000)
    const [a, b, c] = [chunk(1), chunk(2), chunk(3)]
    await first.put(a.id, a.bytes)
    await first.put(b.id, b.bytes)
    await first.pin('task-7', [a.id])
    await first.close()

    const second = await openStore(dir, 2000)
    t.after(() => second.close())
    await second.put(c.id, c.bytes)
    assert.equal(second.has(a.id), true)
    assert.equal(second.has(b.id), false)
  })

  it('notices a chunk corrupted on disk before serving it', async (t) => {
    const dir = await tempDir(t)
    const first = await openStore(dir)
    const { id, bytes } = chunk(1)
    await first.put(id, bytes)
    await first.close()

    const path = join(dir, 'chunks', id.slice(0, 2), id)
    const damaged = Buffer.from(await readFile(path))
    damaged[10] ^= 0xff
    await writeFile(path, damaged)

    const second = await openStore(dir)
    t.after(() => second.close())
    await assert.rejects(second.get(id), { code: 'STORE_CHUNK_CORRUPT' })
    assert.equal(second.has(id), false)
  })

  it('adopts chunk files the index lost in a crash, and forgets vanished ones', async (t) => {
    const dir = await tempDir(t)
    const first = await openStore(dir)
    const [a, b] = [chunk(1), chunk(2)]
    await first.put(a.id, a.bytes)
    await first.close()

    await writeFile(join(dir, 'chunks', b.id.slice(0, 2), b.id), b.bytes)
    await rm(join(dir, 'chunks', a.id.slice(0, 2), a.id))

    const second = await openStore(dir)
    t.after(() => second.close())
    assert.deepEqual(await second.get(b.id), b.bytes)
    await assert.rejects(second.get(a.id), { code: 'STORE_CHUNK_MISSING' })
    assert.equal(second.has(a.id), false)
  })

  it('reassembles a master from its manifest, streaming chunk by chunk', async (t) => {
    const source = await tempDir(t)
    const { mkdir, symlink } = await import('node:fs/promises')
    await mkdir(join(source, 'bin', 'empty'), { recursive: true })
    await writeFile(join(source, 'bin', 'app.exe'), pseudoRandomBytes(2 * 1024 * 1024, 4))
    await writeFile(join(source, 'zero'), '')
    await symlink('bin/app.exe', join(source, 'app'))

    const store = await openStore(await tempDir(t))
    t.after(() => store.close())
    const indexed = await indexLocalMaster(source, {
      chunker: chunkerParams({ minSize: 16384, avgSize: 65536, maxSize: 262144 }),
      onChunk: (piece) => store.put(piece.id, piece.pieces, { verified: true }),
    })

    const out = join(await tempDir(t), 'out')
    await exportMaster(store, indexed.manifest, out)
    const again = await indexLocalMaster(out, { chunker: indexed.manifest.chunker })

    assert.equal(again.id, indexed.id)
  })
})
