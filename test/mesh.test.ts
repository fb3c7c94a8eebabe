import assert from 'node:assert/strict'
import { cp, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { chunkerParams } from '../protocol/chunker/params.ts'
import { indexLocalMaster } from '../protocol/local-master.ts'
import { exportFromNode, startNode, type TestNode } from './helpers/mesh.ts'
import { type Nginx, startNginx } from './helpers/nginx.ts'
import { pseudoRandomBytes } from './helpers/random.ts'
import { assertSameTree, writeMasterTree } from './helpers/trees.ts'

const MIB = 1024 * 1024
const MASTER_BYTES = 64 * MIB

async function writeManifestBeside(master: string): Promise<void> {
  const indexed = await indexLocalMaster(master, {
    chunker: chunkerParams({ minSize: 16 * 1024, avgSize: 64 * 1024, maxSize: 256 * 1024 }),
  })
  await writeFile(`${master}.pressmesh.json`, indexed.bytes)
}

describe('four nodes and one storage server', () => {
  let work: string
  let nginx: Nginx
  const nodes: TestNode[] = []
  const fetched = new Map<string, string>()

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'pressmesh-mesh-'))
    await mkdir(join(work, 'www'), { recursive: true })
    nginx = await startNginx({ root: join(work, 'www'), dir: join(work, 'nginx') })

    const first = await startNode({ name: 'n1', dataDir: join(work, 'n1') })
    nodes.push(first)
    for (const name of ['n2', 'n3', 'n4']) {
      nodes.push(
        await startNode({ name, dataDir: join(work, name), bootstrap: [first.addresses[0]] }),
      )
    }
  })

  after(async () => {
    await Promise.all(nodes.map((node) => node.kill()))
    await nginx?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('fetch a 64 MiB master with nginx serving it about once', async () => {
    await writeMasterTree(join(work, 'www', 'v0'), MASTER_BYTES, 1)
    const before = await nginx.bytesSent()

    const results = await Promise.all(nodes.map((node) => node.fetch(`${nginx.url}/v0/`)))
    const served = (await nginx.bytesSent()) - before

    assert.equal(new Set(results.map((result) => result.manifest)).size, 1)
    assert.ok(served <= 1.05 * MASTER_BYTES, `nginx served ${(served / MASTER_BYTES).toFixed(3)} x`)
    fetched.set('v0', results[0].manifest)
  })

  it('fetch a version that changes 10% with nginx serving about the changed bytes', async () => {
    const v1 = join(work, 'www', 'v1')
    await writeMasterTree(v1, MASTER_BYTES, 7)
    await writeManifestBeside(v1)
    const first = await Promise.all(nodes.map((node) => node.fetch(`${nginx.url}/v1/`)))
    assert.ok(first.every((result) => result.manifest === first[0].manifest))

    const v2 = join(work, 'www', 'v2')
    await cp(v1, v2, { recursive: true })
    const changed = Math.round(MASTER_BYTES / 10)
    const handle = await open(join(v2, 'setup.exe'), 'r+')
    await handle.write(pseudoRandomBytes(changed, 99), 0, changed, 20 * MIB)
    await handle.close()
    await writeManifestBeside(v2)

    const before = await nginx.bytesSent()
    const results = await Promise.all(nodes.map((node) => node.fetch(`${nginx.url}/v2/`)))
    const served = (await nginx.bytesSent()) - before

    assert.ok(
      served <= 1.15 * changed,
      `nginx served ${(served / changed).toFixed(3)} x the change`,
    )
    assert.ok(results.every((result) => result.report.local > 0.8 * MASTER_BYTES))
    fetched.set('v2', results[0].manifest)
  })

  it('finish from peers when the origin stops after the first node has the master', async () => {
    await writeMasterTree(join(work, 'www', 'v3'), 16 * MIB, 3)
    await writeManifestBeside(join(work, 'www', 'v3'))
    const url = `${nginx.url}/v3/`
    const first = await nodes[0].fetch(url)
    await nginx.stop()

    try {
      const rest = await Promise.all(nodes.slice(1).map((node) => node.fetch(url)))
      assert.ok(rest.every((result) => result.manifest === first.manifest))
      assert.ok(rest.every((result) => result.report.fromOrigin === 0))
    } finally {
      await nginx.start()
    }

    fetched.set('v3', first.manifest)
  })

  it('leave every node holding files identical to the master', async () => {
    await Promise.all(nodes.map((node) => node.kill()))

    for (const node of nodes) {
      for (const [version, manifest] of fetched) {
        const out = join(work, 'out', node.name, version)
        await exportFromNode(node.dataDir, manifest, out)
        assertSameTree(join(work, 'www', version), out)
      }
    }
  })
})
