import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { HashWorker } from '../../protocol/chunker/whole-hash.ts'
import { startDavServer } from '../../test/helpers/dav-server.ts'
import { indexTree } from '../../test/helpers/media.ts'
import { tempDir } from '../../test/helpers/temp.ts'
import { writeMasterTree } from '../../test/helpers/trees.ts'
import { BufferPool } from './buffer-pool.ts'
import { type MediumInput, storeSource } from './medium.ts'
import { publishMedium } from './publish.ts'
import { readAheadSource } from './read-ahead.ts'
import { davTarget } from './upload/dav-target.ts'
import { folderTarget } from './upload/folder-target.ts'
import { MEDIUM_WRITERS, type PackFormat } from './writers.ts'

// Chunk reads go into pooled memory that is used again once the image writer, the hashing
// threads and the target are all done with it. Whatever is reused, the images must come out
// exactly as from fresh memory, and a complete publish must give every buffer back.

async function sha256OfMedium(input: MediumInput, format: PackFormat): Promise<string[]> {
  const medium = MEDIUM_WRITERS[format]!(input, { name: 'product' })
  const sums: string[] = []

  for (const file of medium.files) {
    const hash = createHash('sha256')
    for await (const bytes of file.bytes()) {
      hash.update(bytes)
    }
    sums.push(hash.digest('hex'))
  }

  return sums
}

async function indexMaster(t: Parameters<typeof indexTree>[0]) {
  const dir = await tempDir(t)
  const root = join(dir, 'product')
  await writeMasterTree(root, 6 * 1024 * 1024 + 333)
  const { input, store } = await indexTree(t, root)
  return { dir, store, fresh: { ...input, source: storeSource(store) } }
}

describe('publishing media from pooled chunk reads', () => {
  it('writes the same images as fresh memory does, and gives every buffer back', async (t) => {
    const { dir, store, fresh } = await indexMaster(t)
    const hashWorker = new HashWorker()
    t.after(() => hashWorker.stop())
    const pool = new BufferPool()
    const pooled = { ...fresh, source: readAheadSource(store, { pool }) }

    for (const format of ['tar', 'iso', 'img'] as const) {
      const expected = await sha256OfMedium(fresh, format)

      for (const round of [1, 2]) {
        const out = join(dir, `${format}-${round}`)
        const medium = MEDIUM_WRITERS[format]!(pooled, { name: 'product' })
        const result = await publishMedium(medium, folderTarget({ dir: out }), { hashWorker })
        const onDisk = createHash('sha256')
          .update(await readFile(join(out, result.files[0].name)))
          .digest('hex')

        assert.deepEqual(
          result.files.map((file) => file.sha256),
          expected,
        )
        assert.equal(onDisk, expected[0], `${format}, round ${round}`)
        const stats = pool.stats()
        assert.equal(stats.free, stats.allocated, `${format}: every buffer is back in the pool`)
      }
    }

    assert.ok(pool.stats().reused > 10 * pool.stats().allocated, JSON.stringify(pool.stats()))
  })

  it('gives every buffer back after an upload to a WebDAV server', async (t) => {
    const { store, fresh } = await indexMaster(t)
    const nginx = await startDavServer(t)
    const hashWorker = new HashWorker()
    t.after(() => hashWorker.stop())
    const pool = new BufferPool()
    const pooled = { ...fresh, source: readAheadSource(store, { pool }) }
    const expected = await sha256OfMedium(fresh, 'tar')

    const result = await publishMedium(
      MEDIUM_WRITERS.tar!(pooled, { name: 'product' }),
      davTarget({ url: `${nginx.url}releases/` }),
      { hashWorker },
    )

    const onServer = await readFile(join(nginx.root, 'releases', 'product.tar'))
    assert.equal(createHash('sha256').update(onServer).digest('hex'), expected[0])
    assert.deepEqual(
      result.files.map((file) => file.sha256),
      expected,
    )
    const stats = pool.stats()
    assert.equal(stats.free, stats.allocated)
    assert.ok(stats.reused > 0)
  })
})
