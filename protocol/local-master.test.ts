import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { appendFileSync } from 'node:fs'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { pseudoRandomBytes } from '../test/helpers/random.ts'
import { tempDir } from '../test/helpers/temp.ts'
import { chunkerParams } from './chunker/params.ts'
import { HashWorker } from './chunker/whole-hash.ts'
import { blake3Hex } from './hash.ts'
import { indexLocalMaster } from './local-master.ts'

describe('indexing a local master', () => {
  it('lists folders, links and files with digests that match the bytes', async (t) => {
    const root = await tempDir(t)
    const big = pseudoRandomBytes(3 * 1024 * 1024, 5)
    await mkdir(join(root, 'data', 'empty'), { recursive: true })
    await writeFile(join(root, 'data', 'big.bin'), big)
    await writeFile(join(root, 'zero.txt'), '')
    await writeFile(join(root, 'Ünïcødé 名前.txt'), 'hello')
    await symlink('data/big.bin', join(root, 'link'))

    const result = await indexLocalMaster(root, {
      chunker: chunkerParams({ minSize: 16384, avgSize: 65536, maxSize: 262144 }),
    })
    const paths = result.manifest.files.map((entry) => `${entry.type}:${entry.path}`)

    assert.deepEqual(paths, [
      'directory:data',
      'file:data/big.bin',
      'directory:data/empty',
      'symlink:link',
      'file:zero.txt',
      'file:Ünïcødé 名前.txt',
    ])

    const file = result.manifest.files[1]
    assert.equal(file.type, 'file')
    assert.equal(file.size, big.length)
    assert.equal(file.blake3, blake3Hex(big))
    assert.equal(file.sha256, createHash('sha256').update(big).digest('hex'))
    assert.equal(
      file.chunks.reduce((sum, chunk) => sum + chunk.size, 0),
      big.length,
    )
    assert.equal(result.summary.files, 3)
    assert.equal(result.summary.bytes, big.length + 5)
  })

  it('gives the same manifest with and without the hashing worker', async (t) => {
    const root = await tempDir(t)
    await writeFile(join(root, 'large.bin'), pseudoRandomBytes(20 * 1024 * 1024, 9))
    const worker = new HashWorker()
    t.after(() => worker.stop())

    const inline = await indexLocalMaster(root)
    const threaded = await indexLocalMaster(root, { hashWorker: worker })

    assert.equal(threaded.id, inline.id)
  })

  it('indexes a single file as a master of one entry', async (t) => {
    const root = await tempDir(t)
    await writeFile(join(root, 'setup.exe'), 'MZ')

    const result = await indexLocalMaster(join(root, 'setup.exe'))
    assert.deepEqual(
      result.manifest.files.map((entry) => entry.path),
      ['setup.exe'],
    )
  })

  it('refuses a missing path, a pipe, and a file that grows while it is read', async (t) => {
    const root = await tempDir(t)
    await assert.rejects(indexLocalMaster(join(root, 'nothing')), { code: 'INDEX_NOT_FOUND' })

    const odd = await tempDir(t)
    execFileSync('mkfifo', [join(odd, 'pipe')])
    await assert.rejects(indexLocalMaster(odd), { code: 'INDEX_UNSUPPORTED_FILE' })

    const growing = join(root, 'growing.bin')
    await writeFile(growing, pseudoRandomBytes(8 * 1024 * 1024, 1))
    let appended = false
    await assert.rejects(
      indexLocalMaster(root, {
        bufferSize: 1024 * 1024,
        onProgress: () => {
          if (!appended) {
            appended = true
            appendFileSync(growing, 'more')
          }
        },
      }),
      { code: 'INDEX_FILE_CHANGED' },
    )
  })

  it('refuses names that a release cannot carry', async (t) => {
    const root = await tempDir(t)
    await writeFile(join(root, 'back\\slash.txt'), 'x')
    await assert.rejects(indexLocalMaster(root), { code: 'MANIFEST_BAD_PATH' })
  })
})
