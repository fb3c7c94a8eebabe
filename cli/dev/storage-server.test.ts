import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { openOrigin } from '../../node/fetch/origin.ts'
import { chunkerParams } from '../../protocol/chunker/params.ts'
import { indexLocalMaster } from '../../protocol/local-master.ts'
import { freePort } from '../../test/helpers/nginx.ts'
import { pseudoRandomBytes } from '../../test/helpers/random.ts'
import { tempDir } from '../../test/helpers/temp.ts'
import { startStorageServer } from './storage-server.ts'

// `pressmesh dev` on a machine without nginx serves the sample master with a built-in server;
// nodes must read a folder master through it exactly as they do through nginx.

for (const kind of ['built-in', 'nginx'] as const) {
  test(`the ${kind} storage server serves folder masters the way nodes read them`, async (t) => {
    const dir = await tempDir(t, 'pressmesh-storage-')
    const master = join(dir, 'www', 'master')
    await mkdir(join(master, 'data'), { recursive: true })
    await writeFile(join(master, 'setup.exe'), pseudoRandomBytes(3 * 1024 * 1024, 1))
    await writeFile(join(master, 'data', 'core.pak'), pseudoRandomBytes(1024 * 1024 + 17, 2))
    await writeFile(join(master, 'data', 'empty'), '')

    const server = await startStorageServer(
      join(dir, 'www'),
      join(dir, 'work'),
      await freePort(),
      kind,
    )
    t.after(() => server.stop())
    assert.equal(server.kind, kind)

    // Ranges, a 404, and paths that try to leave the root.
    const range = await fetch(`${server.url}/master/setup.exe`, {
      headers: { range: 'bytes=10-19' },
    })
    assert.equal(range.status, 206)
    assert.deepEqual(
      Buffer.from(await range.arrayBuffer()),
      pseudoRandomBytes(3 * 1024 * 1024, 1).subarray(10, 20),
    )
    assert.equal((await fetch(`${server.url}/master/nothing`)).status, 404)
    const outside = await fetch(`${server.url}/..%2f..%2fetc/passwd`)
    assert.ok([400, 403, 404].includes(outside.status), String(outside.status))

    // A node's origin indexes the folder over HTTP to the same files as a local index.
    const origin = openOrigin(`${server.url}/master/`)
    const indexed = await origin.index(chunkerParams(), () => undefined)
    const local = await indexLocalMaster(master)
    const files = (m: typeof local.manifest) =>
      m.files.filter((f) => f.type === 'file').map((f) => [f.path, f.size, f.sha256])
    assert.deepEqual(files(indexed.manifest), files(local.manifest))
  })
}
