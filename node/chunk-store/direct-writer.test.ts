import assert from 'node:assert/strict'
import { constants } from 'node:fs'
import { open, readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { blake3Hex } from '../../protocol/hash.ts'
import { logger } from '../../protocol/logger.ts'
import { pseudoRandomBytes } from '../../test/helpers/random.ts'
import { tempDir } from '../../test/helpers/temp.ts'
import { DIRECT_ALIGNMENT_BYTES, DIRECT_SLOT_BYTES, DIRECT_SLOTS } from './constants.ts'
import { DirectWriter, type OpenFile } from './direct-writer.ts'
import { ChunkStore } from './store.ts'

const log = logger('test:direct-writer')

/** Splits bytes into pieces of uneven sizes, as they come off the network. */
function piecesOf(bytes: Buffer, sizes = [1, 4095, 65536, 7, 300_000]): Buffer[] {
  const pieces: Buffer[] = []
  let offset = 0

  for (let i = 0; offset < bytes.length; i++) {
    const size = sizes[i % sizes.length]
    pieces.push(bytes.subarray(offset, offset + size))
    offset += size
  }

  return pieces
}

/** An `open` that refuses O_DIRECT the way a file system without it does. */
const openWithoutDirect: OpenFile = async (path, flags, mode) => {
  if (typeof flags === 'number' && (flags & constants.O_DIRECT) !== 0) {
    throw Object.assign(new Error(`EINVAL: invalid argument, open '${path}'`), { code: 'EINVAL' })
  }

  return open(path, flags, mode)
}

describe('direct chunk writes', () => {
  it('write files byte for byte, whatever their size against the block and the slot', async (t) => {
    const dir = await tempDir(t)
    const writer = await DirectWriter.probe(dir, log)
    assert.ok(writer, 'this file system takes direct writes')

    const block = DIRECT_ALIGNMENT_BYTES
    const sizes = [1, block - 1, block, block + 1, 3 * block + 17, DIRECT_SLOT_BYTES + 5]
    sizes.push(2 * DIRECT_SLOT_BYTES, 2 * DIRECT_SLOT_BYTES + block + 1)

    for (const [i, size] of sizes.entries()) {
      const bytes = pseudoRandomBytes(size, 10 + i)
      const path = join(dir, `file-${size}`)
      await writer.write(path, piecesOf(bytes), false)

      assert.equal((await stat(path)).size, size)
      assert.ok((await readFile(path)).equals(bytes), `file of ${size} bytes`)
    }
  })

  it('write more files at once than there are slots, each whole', async (t) => {
    const dir = await tempDir(t)
    const writer = await DirectWriter.probe(dir, log)
    assert.ok(writer)

    const files = Array.from({ length: DIRECT_SLOTS * 4 }, (_, i) => ({
      path: join(dir, `chunk-${i}`),
      bytes: pseudoRandomBytes(300_000 + i * 4099, 200 + i),
    }))
    await Promise.all(files.map((file) => writer.write(file.path, piecesOf(file.bytes), true)))

    for (const file of files) {
      assert.ok((await readFile(file.path)).equals(file.bytes), file.path)
    }
  })

  it('refuse to write over a file that exists', async (t) => {
    const dir = await tempDir(t)
    const writer = await DirectWriter.probe(dir, log)
    assert.ok(writer)
    const path = join(dir, 'taken')
    await writer.write(path, [pseudoRandomBytes(10_000, 1)], false)

    await assert.rejects(writer.write(path, [pseudoRandomBytes(10_000, 2)], false), {
      code: 'EEXIST',
    })
    assert.ok((await readFile(path)).equals(pseudoRandomBytes(10_000, 1)))
  })

  it('fail with a code, not a short file, when the disk takes fewer bytes', async (t) => {
    const dir = await tempDir(t)
    let shortWrites = false
    const shortOpen: OpenFile = async (path, flags, mode) => {
      const handle = await open(path, flags, mode)
      return new Proxy(handle, {
        get(target, prop) {
          if (prop === 'write' && shortWrites) {
            return async (...args: Parameters<typeof target.write>) => {
              const done = await target.write(...args)
              return { ...done, bytesWritten: done.bytesWritten - 1 }
            }
          }
          const value = Reflect.get(target, prop)
          return typeof value === 'function' ? value.bind(target) : value
        },
      })
    }
    const writer = await DirectWriter.probe(dir, log, shortOpen)
    assert.ok(writer)

    shortWrites = true
    await assert.rejects(writer.write(join(dir, 'short'), [pseudoRandomBytes(9000, 4)], false), {
      code: 'STORE_WRITE_SHORT',
    })
  })

  it('are given up for the page cache where the file system refuses them', async (t) => {
    const dir = await tempDir(t)
    assert.equal(await DirectWriter.probe(dir, log, openWithoutDirect), undefined)
    assert.deepEqual(await readdir(dir), [], 'the probe leaves nothing behind')

    const store = await ChunkStore.open({ dir, directWrites: true, openFile: openWithoutDirect })
    t.after(() => store.close())
    const bytes = pseudoRandomBytes(100_000, 3)
    const id = blake3Hex(bytes)

    await store.put(id, piecesOf(bytes))
    assert.equal(store.stats().directWrites, false)
    assert.ok((await store.get(id)).equals(bytes))
  })

  it('give a store the same chunks across a reopen as writes through the page cache', async (t) => {
    const dir = await tempDir(t)
    const store = await ChunkStore.open({ dir, directWrites: true })
    assert.equal(store.stats().directWrites, true)
    const chunks = [5, 4096, 1_048_576 + 3, 4 * 1_048_576].map((size, i) => {
      const bytes = pseudoRandomBytes(size, 50 + i)
      return { id: blake3Hex(bytes), bytes }
    })

    await Promise.all(chunks.map((chunk) => store.put(chunk.id, piecesOf(chunk.bytes))))
    await store.close()

    const reopened = await ChunkStore.open({ dir })
    t.after(() => reopened.close())
    for (const chunk of chunks) {
      const file = join(dir, 'chunks', chunk.id.slice(0, 2), chunk.id)
      assert.ok((await readFile(file)).equals(chunk.bytes))
      assert.ok((await reopened.get(chunk.id)).equals(chunk.bytes), 'checked against its id')
    }
    assert.deepEqual(await readdir(join(dir, 'chunks', 'tmp')), [])
  })
})
