import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { chunkerParams } from '../protocol/chunker/params.ts'
import { indexLocalMaster } from '../protocol/local-master.ts'
import { startEvilPeer } from './helpers/evil-peer.ts'
import { exportFromNode, startNode, type TestNode } from './helpers/mesh.ts'
import { startNginx } from './helpers/nginx.ts'
import { assertSameTree, writeMasterTree } from './helpers/trees.ts'

const MIB = 1024 * 1024

async function setUp(
  t: { after: (fn: () => Promise<void>) => void },
  options: { limitRate?: string } = {},
) {
  const work = await mkdtemp(join(tmpdir(), 'pressmesh-faults-'))
  await mkdir(join(work, 'www'))
  const nginx = await startNginx({ root: join(work, 'www'), dir: join(work, 'nginx'), ...options })
  const nodes: TestNode[] = []

  t.after(async () => {
    await Promise.all(nodes.map((node) => node.kill()))
    await nginx.stop()
    await rm(work, { recursive: true, force: true })
  })

  const master = async (name: string, bytes: number, seed: number) => {
    const root = join(work, 'www', name)
    await writeMasterTree(root, bytes, seed)
    const indexed = await indexLocalMaster(root, {
      chunker: chunkerParams({ minSize: 64 * 1024, avgSize: 256 * 1024, maxSize: 1024 * 1024 }),
    })
    await writeFile(`${root}.pressmesh.json`, indexed.bytes)
    return { root, url: `${nginx.url}/${name}/`, indexed }
  }

  const node = async (name: string, site = 'default', bootstrap = nodes[0]?.addresses[0]) => {
    const started = await startNode({
      name,
      dataDir: join(work, name),
      site,
      bootstrap: bootstrap ? [bootstrap] : [],
    })
    nodes.push(started)
    return started
  }

  return { work, nginx, nodes, master, node }
}

describe('the mesh under faults', () => {
  it('bans a peer that serves corrupt chunks and still ends byte-identical', async (t) => {
    const { work, master, node } = await setUp(t)
    const v = await master('v', 16 * MIB, 5)
    const a = await node('a')
    await a.fetch(v.url)

    const evil = await startEvilPeer(a.addresses[0], v.indexed, v.url)
    t.after(() => evil.stop())
    const b = await node('b')
    await sleep(1_500)

    const result = await b.fetch(v.url)
    const metrics = await b.metrics()

    assert.ok(evil.served() > 0, 'the corrupt peer was asked')
    assert.ok((metrics.get('pressmesh_chunks_rejected_total') ?? 0) >= 1)
    assert.equal(metrics.get('pressmesh_peers_banned_total'), 1)

    await b.kill()
    await exportFromNode(b.dataDir, result.manifest, join(work, 'out-b'))
    assertSameTree(v.root, join(work, 'out-b'))
  })

  it('lets the others finish when a node is killed mid-transfer', async (t) => {
    const { master, node, nginx } = await setUp(t, { limitRate: '4m' })
    const v = await master('v', 32 * MIB, 6)
    const [a, b, c] = [await node('a'), await node('b'), await node('c')]
    await sleep(1_000)

    const fetches = [a, b, c].map((n) =>
      n.fetch(v.url).then(
        (r) => r,
        (err: Error) => err,
      ),
    )
    await sleep(2_000)
    await c.kill('SIGKILL')

    const [ra, rb] = await Promise.all(fetches.slice(0, 2))
    assert.ok(!(ra instanceof Error) && !(rb instanceof Error), `${ra} ${rb}`)
    assert.equal(ra.manifest, v.indexed.id)
    assert.equal(rb.manifest, v.indexed.id)
    assert.ok((await nginx.bytesSent()) < 1.6 * 32 * MIB)
  })

  it('carries each chunk between two sites about once per site', async (t) => {
    const { master, node } = await setUp(t)
    const v = await master('v', 24 * MIB, 8)
    const east = [await node('e1', 'east')]
    east.push(await node('e2', 'east'), await node('e3', 'east'))
    const west = [await node('w1', 'west'), await node('w2', 'west'), await node('w3', 'west')]
    await sleep(1_500)

    await Promise.all([...east, ...west].map((n) => n.fetch(v.url)))

    for (const [site, other, nodes] of [
      ['east', 'west', east],
      ['west', 'east', west],
    ] as const) {
      let crossed = 0
      for (const n of nodes) {
        crossed +=
          (await n.metrics()).get(`pressmesh_bytes_from_peers_total{peer_site="${other}"}`) ?? 0
      }
      assert.ok(
        crossed <= 1.1 * 24 * MIB,
        `${site} took ${(crossed / (24 * MIB)).toFixed(2)} x from ${other}`,
      )
    }
  })
})
