import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Nginx, startNginx } from '../../test/helpers/nginx.ts'
import { writeMasterTree } from '../../test/helpers/trees.ts'
import { indexLocalMaster } from '../../protocol/local-master.ts'
import type { TaskSpec } from '../../protocol/jobs.ts'
import {
  generateReleaseKeys,
  keyFingerprint,
  readPrivateKey,
  readPublicKey,
  sumsSignatureValid,
} from '../media/release-key.ts'
import { MeshNode } from '../mesh-node.ts'
import { TestCoordinator } from './test-coordinator.ts'

// The node's side of dispatch against a real libp2p host playing the coordinator: real nodes
// in this process, real nginx as the storage server.

const MIB = 1024 * 1024

async function startMeshNode(dataDir: string, init: Partial<Parameters<typeof MeshNode.start>[0]>) {
  return MeshNode.start({
    dataDir,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: [],
    roles: ['production'],
    site: 'default',
    slots: 2,
    ...init,
  })
}

async function writeMaster(root: string, bytes: number, seed: number): Promise<string> {
  await writeMasterTree(root, bytes, seed)
  const indexed = await indexLocalMaster(root)
  await writeFile(`${root}.pressmesh.json`, indexed.bytes)
  return indexed.id
}

function task(id: string, fields: Partial<TaskSpec>): TaskSpec {
  return {
    id,
    job: 'job-1',
    attempt: 1,
    kind: 'noop',
    master: '0'.repeat(64),
    leaseMs: 10_000,
    ...fields,
  }
}

describe('tasks dispatched to nodes', () => {
  let work: string
  let nginx: Nginx
  let slowNginx: Nginx
  let coordinator: TestCoordinator
  let a: MeshNode
  let b: MeshNode
  let v1: string
  let keyPath: string
  let aStopped = false

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'pressmesh-tasks-'))
    await mkdir(join(work, 'www'))
    v1 = await writeMaster(join(work, 'www', 'v1'), 8 * MIB, 1)
    await writeMaster(join(work, 'www', 'slow'), 24 * MIB, 2)
    nginx = await startNginx({ root: join(work, 'www'), dir: join(work, 'nginx') })
    slowNginx = await startNginx({
      root: join(work, 'www'),
      dir: join(work, 'nginx-slow'),
      limitRate: '256k',
    })

    const keys = generateReleaseKeys()
    keyPath = join(work, 'release.key.pem')
    await writeFile(keyPath, keys.privatePem)

    a = await startMeshNode(join(work, 'a'), { slots: 3 })
    b = await startMeshNode(join(work, 'b'), {
      slots: 1,
      bootstrap: [a.addresses()[0]],
      releaseKey: await readPrivateKey(keyPath),
    })
    coordinator = await TestCoordinator.start()
    await coordinator.connect(a.addresses())
    await coordinator.connect(b.addresses())
  })

  after(async () => {
    await coordinator?.stop()
    await Promise.all([aStopped ? undefined : a?.stop(), b?.stop()])
    await nginx?.stop()
    await slowNginx?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('fetch a master from nginx and report the manifest id it indexes to', async () => {
    const offer = task('fetch-1', { kind: 'fetch', master: `${nginx.url}/v1/` })
    const answer = await coordinator.send(a.peerId, { v: 1, type: 'offer', task: offer })
    assert.deepEqual(answer, { v: 1, type: 'accept' })

    const result = await coordinator.waitForResult('fetch-1')
    assert.equal(result.outcome, 'succeeded', JSON.stringify(result.error))
    assert.equal(result.output?.manifest, v1)
    assert.equal(result.output?.fromOrigin, 8 * MIB)
    assert.equal(result.output?.fromPeers, 0)

    const listed = coordinator.heartbeats.filter(
      (seen) => seen.from === a.peerId && seen.heartbeat.running.some((p) => p.task === 'fetch-1'),
    )
    assert.ok(listed.length > 0, 'a heartbeat listed the task')
    assert.equal((await a.metrics.tasksSucceeded.get()).values[0]?.value, 1)
  })

  it('pack an unsigned tar with its sums into a folder from chunks already held', async () => {
    const out = join(work, 'media-a')
    const offer = task('pack-1', {
      kind: 'pack',
      master: `${nginx.url}/v1/`,
      manifest: v1,
      medium: { format: 'tar' },
      name: 'product-1.0',
      target: { type: 'folder', dir: out },
    })
    assert.equal(
      (await coordinator.send(a.peerId, { v: 1, type: 'offer', task: offer })).type,
      'accept',
    )

    const result = await coordinator.waitForResult('pack-1')
    assert.equal(result.outcome, 'succeeded', JSON.stringify(result.error))
    assert.equal(result.output?.manifest, v1)
    assert.equal(result.output?.fromOrigin, 0)
    assert.equal(result.output?.location, out)
    assert.equal(result.output?.signedBy, undefined)

    const listing = execFileSync('tar', ['-tf', join(out, 'product-1.0.tar')], { encoding: 'utf8' })
    assert.deepEqual(
      listing
        .split('\n')
        .filter(Boolean)
        .map((line) => line.replace(/\/$/, ''))
        .sort(),
      ['data', 'data/core.pak', 'data/readme.txt', 'setup.exe'],
    )
    const tarBytes = await readFile(join(out, 'product-1.0.tar'))
    const sha256 = createHash('sha256').update(tarBytes).digest('hex')
    assert.deepEqual(
      result.output?.files?.map((file) => [file.name, file.size, file.sha256]),
      [['product-1.0.tar', tarBytes.length, sha256]],
    )
    assert.match(await readFile(join(out, 'SHA256SUMS'), 'utf8'), new RegExp(sha256))
    assert.ok((await stat(join(out, 'BLAKE3SUMS'))).size > 0)
    await assert.rejects(stat(join(out, 'SHA256SUMS.sig')))
  })

  it('pack a signed tar of a master named by manifest id, its chunks from peers', async () => {
    const out = join(work, 'media-b')
    const offer = task('pack-2', {
      kind: 'pack',
      master: v1,
      medium: { format: 'tar' },
      name: 'product-1.0',
      target: { type: 'folder', dir: out },
    })
    assert.equal(
      (await coordinator.send(b.peerId, { v: 1, type: 'offer', task: offer })).type,
      'accept',
    )

    const result = await coordinator.waitForResult('pack-2', 60_000)
    assert.equal(result.outcome, 'succeeded', JSON.stringify(result.error))
    assert.equal(result.output?.manifest, v1)
    assert.equal(result.output?.fromOrigin, 0)
    assert.equal(result.output?.fromPeers, 8 * MIB)

    const writing = await coordinator.waitForHeartbeat(
      (seen) =>
        seen.from === b.peerId &&
        seen.heartbeat.running.some((p) => p.task === 'pack-2' && p.phase === 'writing'),
      5_000,
    )
    assert.ok(writing.heartbeat.running.length <= 256)

    const publicKey = await readPublicKey(keyPath)
    assert.equal(result.output?.signedBy, keyFingerprint(publicKey))
    const sums = await readFile(join(out, 'SHA256SUMS'))
    const signature = await readFile(join(out, 'SHA256SUMS.sig'))
    assert.ok(sumsSignatureValid(sums, signature, publicKey))
  })

  it('refuse offers beyond the slots, take a repeat once, stop a cancelled fetch', async () => {
    const slow = task('fetch-slow', { kind: 'fetch', master: `${slowNginx.url}/slow/` })
    const offer = { v: 1, type: 'offer', task: slow } as const
    assert.equal((await coordinator.send(b.peerId, offer)).type, 'accept')
    assert.equal((await coordinator.send(b.peerId, offer)).type, 'accept')

    const refused = await coordinator.send(b.peerId, {
      v: 1,
      type: 'offer',
      task: task('noop-x', {}),
    })
    assert.equal(refused.type === 'refuse' && refused.code, 'NO_SLOTS')

    const progress = await coordinator.waitForHeartbeat((seen) =>
      seen.heartbeat.running.some(
        (p) => p.task === 'fetch-slow' && p.phase === 'fetching' && p.done > 0,
      ),
    )
    const listed = progress.heartbeat.running.find((p) => p.task === 'fetch-slow')
    assert.equal(listed?.total, 24 * MIB)
    assert.equal(b.freeSlots(), 0)

    const cancelled = await coordinator.send(b.peerId, {
      v: 1,
      type: 'cancel',
      task: 'fetch-slow',
      attempt: 1,
    })
    assert.deepEqual(cancelled, { v: 1, type: 'ack' })
    const result = await coordinator.waitForResult('fetch-slow', 10_000)
    assert.equal(result.outcome, 'cancelled')
    assert.equal(result.error?.code, 'TASK_CANCELLED')
    assert.equal(coordinator.resultsOf('fetch-slow').length, 1)
    assert.equal(
      (await b.metrics.tasksAccepted.get()).values.find((v) => v.labels.kind === 'fetch')?.value,
      1,
    )

    const unknown = await coordinator.send(b.peerId, {
      v: 1,
      type: 'cancel',
      task: 'nope',
      attempt: 1,
    })
    assert.equal(unknown.type === 'refuse' && unknown.code, 'NOT_RUNNING')

    const freed = await coordinator.send(b.peerId, {
      v: 1,
      type: 'offer',
      task: task('noop-y', {}),
    })
    assert.equal(freed.type, 'accept', 'the cancelled task gave its slot back')
    await coordinator.waitForResult('noop-y')
  })

  it('send a result again until the coordinator acknowledges it', async () => {
    coordinator.policy = (_result, seen) => (seen === 1 ? 'reset' : 'ack')
    assert.equal(
      (await coordinator.send(a.peerId, { v: 1, type: 'offer', task: task('noop-1', {}) })).type,
      'accept',
    )
    await coordinator.waitForResult('noop-1', 10_000, 2)
    coordinator.policy = () => 'ack'
    assert.ok(coordinator.resultsOf('noop-1').every((result) => result.outcome === 'succeeded'))

    // A coordinator that does not listen yet (restarting): the task stays listed as reporting.
    const late = await TestCoordinator.start({ listen: false })
    try {
      await late.connect(a.addresses())
      await sleep(300)
      assert.equal(
        (await late.send(a.peerId, { v: 1, type: 'offer', task: task('noop-2', {}) })).type,
        'accept',
      )
      await late.waitForHeartbeat((seen) =>
        seen.heartbeat.running.some((p) => p.task === 'noop-2' && p.phase === 'reporting'),
      )
      await sleep(1_000)
      assert.equal(late.resultsOf('noop-2').length, 0)

      await late.listen()
      const result = await late.waitForResult('noop-2', 20_000)
      assert.equal(result.outcome, 'succeeded')
    } finally {
      await late.stop()
    }
  })

  it('reset malformed frames and go on serving', async () => {
    const before = (await a.metrics.badFrames.get()).values.find(
      (v) => v.labels.protocol === 'dispatch',
    )
    assert.equal(await coordinator.sendBytes(a.peerId, Buffer.from('not json')), 'reset')
    assert.equal(
      await coordinator.sendBytes(a.peerId, Buffer.from('{"v":1,"type":"hello"}')),
      'reset',
    )
    assert.equal(await coordinator.sendBytes(a.peerId, Buffer.alloc(70 * 1024, 0x7b)), 'reset')
    const after = (await a.metrics.badFrames.get()).values.find(
      (v) => v.labels.protocol === 'dispatch',
    )
    assert.equal((after?.value ?? 0) - (before?.value ?? 0), 3)

    const result = await coordinator.send(a.peerId, {
      v: 1,
      type: 'result',
      task: 'x',
      attempt: 1,
      outcome: 'succeeded',
    })
    assert.equal(result.type === 'refuse' && result.code, 'BAD_TASK')
    assert.equal(
      (await coordinator.send(a.peerId, { v: 1, type: 'offer', task: task('noop-3', {}) })).type,
      'accept',
    )
    assert.equal((await coordinator.waitForResult('noop-3')).outcome, 'succeeded')
  })

  it('fail tasks whose master is missing, for good or for another attempt', async () => {
    const offers = [
      task('missing-file', { kind: 'fetch', master: `file://${join(work, 'www', 'nope')}` }),
      task('missing-http', { kind: 'fetch', master: `${nginx.url}/nope/` }),
      task('missing-manifest', { kind: 'fetch', master: 'f'.repeat(64) }),
    ]
    for (const offer of offers) {
      assert.equal(
        (await coordinator.send(a.peerId, { v: 1, type: 'offer', task: offer })).type,
        'accept',
      )
    }

    const [file, http, manifest] = await Promise.all(
      offers.map((offer) => coordinator.waitForResult(offer.id, 30_000)),
    )
    assert.deepEqual(
      [file.outcome, file.error?.code, file.error?.retryable],
      ['failed', 'INDEX_NOT_FOUND', false],
    )
    assert.deepEqual(
      [http.outcome, http.error?.code, http.error?.retryable],
      ['failed', 'MASTER_NOT_FOUND', false],
    )
    assert.deepEqual(
      [manifest.outcome, manifest.error?.code, manifest.error?.retryable],
      ['failed', 'MANIFEST_UNAVAILABLE', true],
    )
  })

  it('report a task cut short by the node stopping as failed and retryable', async () => {
    const slow = task('fetch-stop', { kind: 'fetch', master: `${slowNginx.url}/slow/`, attempt: 2 })
    assert.equal(
      (await coordinator.send(a.peerId, { v: 1, type: 'offer', task: slow })).type,
      'accept',
    )
    await coordinator.waitForHeartbeat((seen) =>
      seen.heartbeat.running.some((p) => p.task === 'fetch-stop' && p.phase === 'fetching'),
    )

    aStopped = true
    await a.stop()
    const result = await coordinator.waitForResult('fetch-stop', 1_000)
    assert.deepEqual(
      [result.outcome, result.error?.code, result.error?.retryable],
      ['failed', 'NODE_STOPPING', true],
    )
  })
})
