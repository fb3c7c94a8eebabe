import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { generateReleaseKeys } from '../node/media/release-key.ts'
import type { JobDetail } from '../protocol/api.ts'
import { type TestCoordinator, startCoordinatorProcess } from './helpers/coordinator.ts'
import { startDavServer } from './helpers/dav-server.ts'
import { startNode, type TestNode } from './helpers/mesh.ts'
import { startNginx } from './helpers/nginx.ts'
import { tempDir } from './helpers/temp.ts'
import { writeMasterTree } from './helpers/trees.ts'

const BIN = fileURLToPath(new URL('../cli/bin/pressmesh.js', import.meta.url))

// The whole vertical with real processes: a coordinator, node processes talking libp2p over
// loopback, nginx as the storage server (and as the WebDAV media server), LevelDB on disk.

interface Mesh {
  dir: string
  coordinator: TestCoordinator
  nodes: TestNode[]
  masterUrl: string
  keyFile: string
}

async function startMesh(
  t: TestContext,
  options: {
    nodes: number
    masterBytes: number
    media?: string
    leaseMs?: number
    slots?: number
    limitRate?: string
  },
): Promise<Mesh> {
  const dir = await tempDir(t, 'pressmesh-e2e-')
  const masterRoot = join(dir, 'www')
  await mkdir(join(masterRoot, 'master'), { recursive: true })
  await writeMasterTree(join(masterRoot, 'master'), options.masterBytes, 7)
  await mkdir(join(dir, 'nginx'))
  const nginx = await startNginx({
    root: masterRoot,
    dir: join(dir, 'nginx'),
    limitRate: options.limitRate,
  })
  t.after(() => nginx.stop())

  const keyFile = join(dir, 'release.key.pem')
  await writeFile(keyFile, generateReleaseKeys().privatePem, { mode: 0o600 })

  const coordinator = await startCoordinatorProcess({
    dataDir: join(dir, 'coordinator'),
    media: options.media ?? join(dir, 'media'),
    leaseMs: options.leaseMs,
  })
  t.after(() => coordinator.kill())

  const nodes: TestNode[] = []
  for (let i = 0; i < options.nodes; i++) {
    const node = await startNode({
      name: `n${i}`,
      dataDir: join(dir, `node-${i}`),
      bootstrap: [coordinator.bootstrap],
      extraArgs: ['--slots', String(options.slots ?? 2), '--release-key', keyFile],
    })
    t.after(() => node.kill())
    nodes.push(node)
  }
  await coordinator.waitForNodes(options.nodes)
  return { dir, coordinator, nodes, masterUrl: `${nginx.url}/master/`, keyFile }
}

function packTasks(detail: JobDetail) {
  return detail.tasks.filter((task) => task.kind === 'pack')
}

async function counter(node: TestNode, name: string): Promise<number> {
  let sum = 0
  for (const [key, value] of await node.metrics()) {
    if (key === name || key.startsWith(`${name}{`)) sum += value
  }
  return sum
}

describe('coordinator with real nodes', () => {
  test('a job goes from submission to media on a WebDAV media server', async (t) => {
    const dav = await startDavServer(t)
    const mesh = await startMesh(t, {
      nodes: 2,
      masterBytes: 12 * 1024 * 1024,
      media: `${dav.url}/releases`,
    })

    const job = await mesh.coordinator.submit({
      product: 'editor',
      version: '2.1',
      master: mesh.masterUrl,
      media: [{ format: 'tar' }, { format: 'iso' }],
    })
    const detail = await mesh.coordinator.waitForJob(job.id)
    assert.equal(detail.job.state, 'succeeded', JSON.stringify(detail.events))
    assert.match(detail.job.manifest ?? '', /^[0-9a-f]{64}$/)

    for (const task of packTasks(detail)) {
      const format = task.medium!.format
      const folder = join(dav.root, 'releases', 'editor', '2.1', job.id, format)
      const names = (await readdir(folder)).sort()
      assert.deepEqual(names, [
        'BLAKE3SUMS',
        'SHA256SUMS',
        'SHA256SUMS.sig',
        `editor-2.1.${format}`,
      ])
      // The sums on the server match the bytes on the server.
      const sums = await readFile(join(folder, 'SHA256SUMS'), 'utf8')
      const image = await readFile(join(folder, `editor-2.1.${format}`))
      assert.ok(sums.includes(createHash('sha256').update(image).digest('hex')))
      assert.equal(task.output?.files?.[0].sha256, createHash('sha256').update(image).digest('hex'))
      assert.ok(task.output?.signedBy)
    }

    const tar = join(dav.root, 'releases', 'editor', '2.1', job.id, 'tar', 'editor-2.1.tar')
    const listing = spawnSync('tar', ['-tf', tar], { encoding: 'utf8' })
    assert.equal(listing.status, 0, listing.stderr)
    assert.ok(listing.stdout.split('\n').length > 3)
    const iso = join(dav.root, 'releases', 'editor', '2.1', job.id, 'iso', 'editor-2.1.iso')
    const xorriso = spawnSync('xorriso', ['-indev', iso, '-find', '/', '-type', 'f'], {
      encoding: 'utf8',
    })
    assert.equal(xorriso.status, 0, xorriso.stderr)

    // The events record the path from queued to succeeded.
    const states = detail.events.map((event) => event.state)
    assert.equal(states[0], 'queued')
    assert.equal(states.at(-1), 'succeeded')
  })

  test('200 jobs submitted at once all end exactly once; no medium is written twice', async (t) => {
    const mesh = await startMesh(t, { nodes: 3, masterBytes: 256 * 1024, slots: 4 })
    const media = join(mesh.dir, 'media')

    // Count every job-final event on the stream while the jobs run.
    const finals = new Map<string, number>()
    const stream = new AbortController()
    t.after(() => stream.abort())
    const response = await fetch(`${mesh.coordinator.url}/api/v1/events`, {
      headers: { authorization: `Bearer ${mesh.coordinator.token}` },
      signal: stream.signal,
    })
    const reading = (async () => {
      const decoder = new TextDecoder()
      let buffer = ''
      for await (const piece of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(piece, { stream: true })
        let end = buffer.indexOf('\n\n')
        while (end >= 0) {
          const message = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          end = buffer.indexOf('\n\n')
          if (!message.includes('event: job')) continue
          const data = JSON.parse(
            message
              .split('\n')
              .find((line) => line.startsWith('data: '))!
              .slice(6),
          )
          if (['succeeded', 'failed', 'cancelled'].includes(data.state)) {
            finals.set(data.id, (finals.get(data.id) ?? 0) + 1)
          }
        }
      }
    })().catch(() => undefined)

    // Twenty clients, ten jobs each, all at once.
    const jobs = (
      await Promise.all(
        Array.from({ length: 20 }, (_, client) =>
          Promise.all(
            Array.from({ length: 10 }, (_, i) =>
              mesh.coordinator.submit({
                product: 'bulk',
                version: `${client}.${i}`,
                master: mesh.masterUrl,
                media: [{ format: 'tar' }],
                priority: (client + i) % 10,
              }),
            ),
          ),
        ),
      )
    ).flat()
    assert.equal(new Set(jobs.map((job) => job.id)).size, 200)

    const details = await Promise.all(
      jobs.map((job) => mesh.coordinator.waitForJob(job.id, 600_000)),
    )
    for (const detail of details) {
      assert.equal(
        detail.job.state,
        'succeeded',
        `${detail.job.id}: ${JSON.stringify(detail.events.at(-1))}`,
      )
    }
    await sleep(500)
    stream.abort()
    await reading

    assert.equal(finals.size, 200)
    assert.ok(
      [...finals.values()].every((count) => count === 1),
      'a job ended more than once',
    )

    // Each job's medium folder holds one tar, and the nodes wrote 200 media in all.
    for (const job of jobs) {
      const names = await readdir(join(media, 'bulk', job.version, job.id, 'tar'))
      assert.deepEqual(
        names.filter((name) => name.endsWith('.tar')),
        [`bulk-${job.version}.tar`],
      )
    }
    let packs = 0
    for (const node of mesh.nodes) {
      packs += await counter(node, 'pressmesh_tasks_succeeded_total{kind="pack"}')
    }
    assert.equal(packs, 200)
  })

  test('a node killed mid-task: the task finishes on another node', async (t) => {
    // A slow storage server keeps the fetch running long enough to kill its node.
    const mesh = await startMesh(t, {
      nodes: 3,
      masterBytes: 24 * 1024 * 1024,
      leaseMs: 3_000,
      limitRate: '4m',
    })
    const job = await mesh.coordinator.submit({
      product: 'victim',
      version: '1',
      master: mesh.masterUrl,
      media: [{ format: 'tar' }],
    })

    const holder = await waitForTaskOn(mesh.coordinator, job.id, 'fetch', 'running')
    const victim = mesh.nodes.find((node) => node.peerId === holder)!
    await victim.kill('SIGKILL')

    const detail = await mesh.coordinator.waitForJob(job.id, 240_000)
    assert.equal(detail.job.state, 'succeeded', JSON.stringify(detail.events))
    const fetch = detail.tasks.find((task) => task.kind === 'fetch')!
    assert.ok(fetch.attempt >= 2, 'the fetch ran again')
    assert.notEqual(fetch.node, holder)
    assert.ok(detail.events.some((event) => event.message.includes('no heartbeat')))
    assert.ok(packTasks(detail).every((task) => task.node !== holder))
  })

  test('coordinator killed mid-job and restarted: the job ends, nothing twice', async (t) => {
    const mesh = await startMesh(t, {
      nodes: 2,
      masterBytes: 24 * 1024 * 1024,
      limitRate: '6m',
    })
    const job = await mesh.coordinator.submit({
      product: 'phoenix',
      version: '3',
      master: mesh.masterUrl,
      media: [{ format: 'tar' }, { format: 'tar.gz' }],
    })
    await waitForTaskOn(mesh.coordinator, job.id, 'fetch', 'running')

    await mesh.coordinator.kill('SIGKILL')
    await sleep(1_000)
    await mesh.coordinator.start()

    const detail = await mesh.coordinator.waitForJob(job.id, 240_000)
    assert.equal(detail.job.state, 'succeeded', JSON.stringify(detail.events))
    // Every task ran once: re-attached after the restart, not run again.
    for (const task of detail.tasks) {
      assert.equal(task.attempt, 1, `${task.id} ran ${task.attempt} times`)
    }
    let packs = 0
    let fetches = 0
    for (const node of mesh.nodes) {
      packs += await counter(node, 'pressmesh_tasks_succeeded_total{kind="pack"}')
      fetches += await counter(node, 'pressmesh_tasks_succeeded_total{kind="fetch"}')
    }
    assert.equal(packs, 2)
    assert.equal(fetches, 1)
    const finals = detail.events.filter(
      (event) => event.task === undefined && event.state === 'succeeded',
    )
    assert.equal(finals.length, 1)
  })

  test('cancelling a job stops its task on the node', async (t) => {
    const mesh = await startMesh(t, { nodes: 1, masterBytes: 24 * 1024 * 1024, limitRate: '2m' })
    const job = await mesh.coordinator.submit({
      product: 'stop',
      version: '1',
      master: mesh.masterUrl,
      media: [{ format: 'tar' }],
    })
    await waitForTaskOn(mesh.coordinator, job.id, 'fetch', 'running')
    const cancelled = await mesh.coordinator.api<{ job: { state: string } }>(
      'POST',
      `/api/v1/jobs/${job.id}/cancel`,
    )
    assert.equal(cancelled.body.job.state, 'cancelled')

    // The node reports the task cancelled and frees its slot.
    const deadline = Date.now() + 20_000
    while (
      Date.now() < deadline &&
      (await counter(mesh.nodes[0], 'pressmesh_tasks_cancelled_total')) < 1
    ) {
      await sleep(200)
    }
    assert.equal(await counter(mesh.nodes[0], 'pressmesh_tasks_cancelled_total'), 1)
    const detail = await mesh.coordinator.detail(job.id)
    assert.ok(detail.tasks.every((task) => task.state === 'cancelled'))
  })

  test('preheat spreads a master to chosen nodes; a drained node gets no tasks', async (t) => {
    const mesh = await startMesh(t, { nodes: 3, masterBytes: 4 * 1024 * 1024 })
    const drained = mesh.nodes[2].peerId
    const drain = await mesh.coordinator.api<{ node: { draining: boolean } }>(
      'POST',
      `/api/v1/nodes/${drained}/drain`,
      { drain: true },
    )
    assert.equal(drain.body.node.draining, true)

    const preheat = await mesh.coordinator.submit({
      kind: 'preheat',
      product: 'warm',
      version: '1',
      master: mesh.masterUrl,
      preheat: { nodes: [mesh.nodes[0].peerId, mesh.nodes[1].peerId] },
    })
    const detail = await mesh.coordinator.waitForJob(preheat.id)
    assert.equal(detail.job.state, 'succeeded')
    assert.deepEqual(
      new Set(detail.tasks.map((task) => task.node)),
      new Set([mesh.nodes[0].peerId, mesh.nodes[1].peerId]),
    )

    // Naming the drained node is refused; one node per site leaves it out.
    const refused = await mesh.coordinator.api<{ error: { code: string } }>(
      'POST',
      '/api/v1/jobs',
      {
        kind: 'preheat',
        product: 'warm',
        version: '1',
        master: mesh.masterUrl,
        preheat: { nodes: [drained] },
      },
    )
    assert.equal(refused.status, 409)
    assert.equal(refused.body.error.code, 'NODE_DRAINING')
    const perSite = await mesh.coordinator.submit({
      kind: 'preheat',
      product: 'warm',
      version: '1',
      master: mesh.masterUrl,
      preheat: { eachSite: true },
    })
    const spread = await mesh.coordinator.waitForJob(perSite.id)
    assert.equal(spread.job.state, 'succeeded')
    assert.equal(spread.tasks.length, 1, 'one site, one node')
    assert.notEqual(spread.tasks[0].node, drained)

    // Publishing afterwards starts from local chunks: no more bytes from the storage server.
    const job = await mesh.coordinator.submit({
      product: 'warm',
      version: '1',
      master: mesh.masterUrl,
      media: [{ format: 'tar' }, { format: 'tar.gz' }, { format: 'img' }],
    })
    const published = await mesh.coordinator.waitForJob(job.id)
    assert.equal(published.job.state, 'succeeded')
    assert.ok(published.tasks.every((task) => task.node !== drained))
    const fetch = published.tasks.find((task) => task.kind === 'fetch')!
    assert.equal(fetch.output?.fromOrigin, 0)
  })
  test('a node joins by the coordinator URL alone (pressmesh node --coordinator)', async (t) => {
    const dir = await tempDir(t, 'pressmesh-e2e-')
    const coordinator = await startCoordinatorProcess({
      dataDir: join(dir, 'coordinator'),
      media: join(dir, 'media'),
    })
    t.after(() => coordinator.kill())
    const info = await (await fetch(`${coordinator.url}/api/v1/mesh`)).json()
    assert.equal(info.peerId, coordinator.peerId)
    const node = await startNode({
      name: 'joiner',
      dataDir: join(dir, 'node'),
      extraArgs: ['--coordinator', coordinator.url],
    })
    t.after(() => node.kill())
    const [joined] = await coordinator.waitForNodes(1)
    assert.equal(joined.peer, node.peerId)
    const job = await coordinator.submit({
      kind: 'noop',
      product: 'n',
      version: '1',
      master: 'http://127.0.0.1:9/x/',
      count: 3,
    })
    assert.equal((await coordinator.waitForJob(job.id)).job.state, 'succeeded')
  })

  test('the command line against a real coordinator: submit, watch, jobs, tokens', async (t) => {
    const mesh = await startMesh(t, { nodes: 1, masterBytes: 2 * 1024 * 1024 })
    const run = (args: string[], token = mesh.coordinator.token) =>
      spawnSync(process.execPath, [BIN, ...args], {
        encoding: 'utf8',
        env: {
          ...process.env,
          PRESSMESH_COORDINATOR: mesh.coordinator.url,
          PRESSMESH_TOKEN: token,
        },
        timeout: 120_000,
      })

    const submitted = run([
      'submit',
      '--product',
      'cli',
      '--version',
      '1',
      '--master',
      mesh.masterUrl,
      '--media',
      'tar',
      '--watch',
    ])
    assert.equal(submitted.status, 0, submitted.stderr)
    const id = /^(j[0-9a-z]{19})$/m.exec(submitted.stdout)?.[1]
    assert.ok(id, submitted.stdout)

    const jobs = run(['jobs', '--json'])
    assert.equal(jobs.status, 0, jobs.stderr)
    const list = JSON.parse(jobs.stdout) as { id: string; state: string }[]
    assert.deepEqual(
      list.map((job) => [job.id, job.state]),
      [[id, 'succeeded']],
    )

    const status = run(['status', id!, '--json'])
    assert.equal(status.status, 0, status.stderr)
    const detail = JSON.parse(status.stdout) as JobDetail
    assert.equal(detail.tasks.find((task) => task.kind === 'pack')?.state, 'succeeded')

    // A job that fails: watch says so with exit status 4.
    const failing = run([
      'submit',
      '--product',
      'cli',
      '--version',
      '2',
      '--master',
      `${mesh.masterUrl}missing/`,
      '--media',
      'tar',
      '--watch',
    ])
    assert.equal(failing.status, 4, failing.stdout + failing.stderr)

    // Bad input is refused before it is sent (2); a viewer cannot submit (3).
    assert.equal(
      run([
        'submit',
        '--product',
        'cli',
        '--version',
        '3',
        '--master',
        mesh.masterUrl,
        '--media',
        'zip',
      ]).status,
      2,
    )
    const created = run(['token', 'create', '--name', 'watcher', '--role', 'viewer', '--json'])
    assert.equal(created.status, 0, created.stderr)
    const viewer = JSON.parse(created.stdout) as { id: string; token: string }
    const refused = run(
      [
        'submit',
        '--product',
        'cli',
        '--version',
        '3',
        '--master',
        mesh.masterUrl,
        '--media',
        'tar',
      ],
      viewer.token,
    )
    assert.equal(refused.status, 3)
    assert.match(refused.stderr, /FORBIDDEN/)
    assert.equal(run(['jobs'], viewer.token).status, 0)
    assert.equal(run(['token', 'revoke', viewer.id]).status, 0)
    assert.equal(run(['jobs'], viewer.token).status, 3)

    // Nobody listening: exit status 6.
    const away = spawnSync(
      process.execPath,
      [BIN, 'jobs', '--coordinator', 'http://127.0.0.1:9', '--token', 'pm_x'],
      {
        encoding: 'utf8',
      },
    )
    assert.equal(away.status, 6, away.stderr)
  })
})

async function waitForTaskOn(
  coordinator: TestCoordinator,
  job: string,
  kind: string,
  state: string,
) {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const detail = await coordinator.detail(job)
    const task = detail.tasks.find((t) => t.kind === kind && t.state === state)
    if (task?.node !== undefined) {
      // Well into the work, not just accepted.
      await sleep(1_000)
      return task.node
    }
    await sleep(100)
  }
  throw new Error(`no ${kind} task ${state} for ${job}`)
}
