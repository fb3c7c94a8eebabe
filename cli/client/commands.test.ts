import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { main } from '../main.ts'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../../test/helpers/temp.ts'
import {
  makeJob,
  makeNode,
  makeTask,
  startTestCoordinator,
  TEST_TOKEN,
  type TestCoordinator,
} from './test-coordinator.ts'

// The client commands run in-process through main(), against a real HTTP server that speaks the
// coordinator's API contract. Only text written by the commands is captured: the test runner's
// own reports are Buffers and pass through.

interface Run {
  code: number
  stdout: string
  stderr: string
}

async function pressmesh(args: string[]): Promise<Run> {
  const captured = { stdout: '', stderr: '' }
  const originals = { stdout: process.stdout.write, stderr: process.stderr.write }

  for (const name of ['stdout', 'stderr'] as const) {
    const original = originals[name]
    process[name].write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
      if (typeof chunk !== 'string') {
        return original.call(this, chunk as Uint8Array, ...(rest as []))
      }

      captured[name] += chunk
      return true
    } as typeof original
  }

  try {
    const code = await main(args)
    return { code, ...captured }
  } finally {
    process.stdout.write = originals.stdout
    process.stderr.write = originals.stderr
  }
}

describe('the coordinator client commands', () => {
  let server: TestCoordinator
  let connection: string[]

  before(async () => {
    // No config file, environment or dev token of the machine running the tests may leak in.
    process.env.XDG_CONFIG_HOME = '/nonexistent/pressmesh-test-config'
    delete process.env.PRESSMESH_COORDINATOR
    delete process.env.PRESSMESH_TOKEN
    delete process.env.PRESSMESH_TOKEN_FILE
    server = await startTestCoordinator()
    connection = ['--coordinator', server.url, '--token', TEST_TOKEN]
  })

  after(() => server.close())

  beforeEach(() => {
    server.requests.length = 0
    server.jobs.length = 0
    server.tasks.length = 0
    server.events.length = 0
    server.nodes.length = 0
    server.tokens.length = 0
    server.pageSize = 50
    server.eventConnections = 0
    server.eventScript = (stream) => stream.end()
  })

  it('submits the job the flags describe and prints its id', async () => {
    const run = await pressmesh([
      'submit',
      ...connection,
      '--product',
      'atlas',
      '--version',
      '2.1.0',
      '--master',
      'https://storage.example/atlas/2.1.0/',
      '--media',
      'tar,tar.gz,iso,iso:dvd5,img,img:mbr',
      '--priority',
      '7',
      '--idempotency-key',
      'build-4711',
    ])

    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdout, 'job-1\n')
    const request = server.requests.find((r) => r.method === 'POST')
    assert.equal(request?.path, '/api/v1/jobs')
    assert.equal(request?.authorization, `Bearer ${TEST_TOKEN}`)
    assert.deepEqual(request?.body, {
      kind: 'publish',
      product: 'atlas',
      version: '2.1.0',
      master: 'https://storage.example/atlas/2.1.0/',
      media: [
        { format: 'tar' },
        { format: 'tar.gz' },
        { format: 'iso' },
        { format: 'iso', disc: 'dvd5' },
        { format: 'img' },
        { format: 'img', mbr: true },
      ],
      priority: 7,
      idempotencyKey: 'build-4711',
    })
  })

  it('submits a preheat job to named sites and prints the job with --json', async () => {
    const master = 'a'.repeat(64)
    const run = await pressmesh([
      'submit',
      ...connection,
      '--preheat',
      '--product',
      'atlas',
      '--version',
      '2.1.0',
      '--master',
      master,
      '--sites',
      'berlin,austin',
      '--json',
    ])

    assert.equal(run.code, 0, run.stderr)
    assert.equal(JSON.parse(run.stdout).kind, 'preheat')
    assert.deepEqual(server.requests[0].body, {
      kind: 'preheat',
      product: 'atlas',
      version: '2.1.0',
      master,
      preheat: { sites: ['berlin', 'austin'] },
      priority: 5,
    })
  })

  it('refuses bad submit flags before sending anything, naming the flag (exit 2)', async () => {
    const base = ['submit', ...connection, '--product', 'atlas', '--version', '1.0']
    const cases: [string[], RegExp][] = [
      [['--master', 'https://s/x', '--media', 'iso:dvd7'], /--media "iso:dvd7": .*dvd5/],
      [['--master', 'https://s/x', '--media', 'tar:mbr'], /--media: "tar:mbr"/],
      [['--master', 'https://s/x'], /--media is required/],
      [['--master', 'ftp://s/x', '--media', 'tar'], /--master: an http\(s\):\/\//],
      [['--master', 'https://s/x', '--media', 'tar', '--priority', '12'], /--priority: /],
      [['--master', 'https://s/x', '--media', 'tar', '--priority', 'high'], /--priority: "high"/],
      [
        ['--master', 'https://s/x', '--preheat'],
        /--nodes, --sites, --all or --each-site: .*exactly one/,
      ],
      [['--master', 'https://s/x', '--media', 'tar', '--all'], /go with --preheat/],
    ]

    for (const [flags, message] of cases) {
      const run = await pressmesh([...base, ...flags])
      assert.equal(run.code, 2, `${flags.join(' ')}: ${run.stderr}`)
      assert.match(run.stderr, message)
      assert.match(run.stderr, /\[CLI_USAGE\]$/m)
    }

    const missing = await pressmesh(['submit', ...connection, '--media', 'tar'])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /--product is required/)
    assert.equal(server.requests.length, 0)
  })

  it('answers the earlier job when the idempotency key was seen before', async () => {
    const flags = ['--product', 'atlas', '--version', '1.0', '--master', 'https://s/x']
    const args = ['submit', ...connection, ...flags, '--media', 'tar', '--idempotency-key', 'k1']
    const first = await pressmesh(args)
    const second = await pressmesh(args)

    assert.equal(second.code, 0, second.stderr)
    assert.equal(second.stdout, first.stdout)
    assert.match(second.stderr, /seen before/)
  })

  it('exits 3 with the coordinator code when the token is refused', async () => {
    const run = await pressmesh(['jobs', '--coordinator', server.url, '--token', 'wrong'])

    assert.equal(run.code, 3)
    assert.equal(run.stderr, 'pressmesh: unknown token [AUTH_BAD_TOKEN]\n')
  })

  it('exits 2 with the coordinator code for a job it does not know', async () => {
    const run = await pressmesh(['status', ...connection, 'job-404'])

    assert.equal(run.code, 2)
    assert.equal(run.stderr, 'pressmesh: no such job [JOB_NOT_FOUND]\n')
  })

  it('exits 6 when nothing listens at the coordinator address', async () => {
    const closed = await startTestCoordinator()
    const url = closed.url
    await closed.close()

    const run = await pressmesh(['jobs', '--coordinator', url, '--token', TEST_TOKEN])
    assert.equal(run.code, 6)
    assert.match(run.stderr, /cannot reach the coordinator at http:\/\/127\.0\.0\.1:\d+ /)
    assert.match(run.stderr, /\[COORDINATOR_UNREACHABLE\]$/m)
  })

  it('lists jobs as a JSON array and follows every page with --all', async () => {
    for (let i = 1; i <= 7; i++) {
      server.jobs.push(makeJob(`job-${i}`, { state: i % 2 === 0 ? 'succeeded' : 'running' }))
    }

    server.pageSize = 3
    const one = await pressmesh(['jobs', ...connection, '--json'])
    assert.equal(one.code, 0, one.stderr)
    const page = JSON.parse(one.stdout)
    assert.ok(Array.isArray(page))
    assert.deepEqual(
      page.map((job: { id: string; state: string }) => [job.id, job.state]),
      [
        ['job-1', 'running'],
        ['job-2', 'succeeded'],
        ['job-3', 'running'],
      ],
    )

    server.requests.length = 0
    const all = await pressmesh(['jobs', ...connection, '--all', '--limit', '2', '--json'])
    assert.equal(all.code, 0, all.stderr)
    const ids = JSON.parse(all.stdout).map((job: { id: string }) => job.id)
    assert.deepEqual(ids, ['job-1', 'job-2', 'job-3', 'job-4', 'job-5', 'job-6', 'job-7'])
    assert.deepEqual(
      server.requests.map((r) => r.path),
      [
        '/api/v1/jobs?limit=2',
        '/api/v1/jobs?limit=2&cursor=at-2',
        '/api/v1/jobs?limit=2&cursor=at-4',
        '/api/v1/jobs?limit=2&cursor=at-6',
      ],
    )
  })

  it('prints jobs as a table and refuses a state the API does not know', async () => {
    server.jobs.push(makeJob('job-1', { state: 'running', tasks: { running: 1, queued: 2 } }))

    const table = await pressmesh(['jobs', ...connection, '--state', 'running'])
    assert.equal(table.code, 0, table.stderr)
    assert.match(table.stdout, /^JOB +KIND +STATE +PRODUCT/)
    assert.match(table.stdout, /job-1 +publish +running +atlas +1\.0 +tar .*1 running, 2 queued/)
    assert.equal(server.requests[0].path, '/api/v1/jobs?state=running')

    const bad = await pressmesh(['jobs', ...connection, '--state', 'done'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--state: /)
  })

  it('calls an answer off the schema a bad response (exit 1)', async () => {
    server.jobs.push({ ...makeJob('job-1'), state: 'exploded' } as never)

    const run = await pressmesh(['status', ...connection, 'job-1'])
    assert.equal(run.code, 1)
    assert.match(run.stderr, /does not match the API: job\.state: .*\[API_BAD_RESPONSE\]$/m)
  })

  it('watches a job to success over the event stream (exit 0)', async () => {
    const job = makeJob('job-1', { state: 'running' })
    server.jobs.push(job)
    server.tasks.push(makeTask('t-1', 'job-1', { state: 'assigned' }))
    server.eventScript = async (stream) => {
      const progress = (done: number) => ({ phase: 'writing', done, total: 1000 })
      stream.raw(': ping\n\n')
      stream.send('task', makeTask('t-1', 'job-1', { state: 'running', progress: progress(0) }))
      stream.send('task', makeTask('t-1', 'job-1', { state: 'running', progress: progress(500) }))
      stream.send('task', makeTask('t-1', 'job-1', { state: 'succeeded' }))
      stream.send('job', { ...job, state: 'succeeded' })
    }

    const run = await pressmesh(['watch', ...connection, 'job-1'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(
      run.stdout,
      [
        'job job-1 running',
        'task t-1 pack tar assigned (attempt 1/3)',
        'task t-1 pack tar running (attempt 1/3)',
        'task t-1 pack tar succeeded (attempt 1/3)',
        'job job-1 succeeded',
        '',
      ].join('\n'),
    )
    assert.ok(server.requests.some((r) => r.path === '/api/v1/events?job=job-1'))
  })

  it('prints one JSON line per event with --json', async () => {
    const job = makeJob('job-1', { state: 'running' })
    server.jobs.push(job)
    server.eventScript = async (stream) => {
      stream.send('task', makeTask('t-1', 'job-1', { state: 'running' }))
      stream.send('task', makeTask('t-9', 'job-9', { state: 'running' }))
      stream.send('job', { ...job, state: 'succeeded' })
    }

    const run = await pressmesh(['watch', ...connection, 'job-1', '--json'])
    assert.equal(run.code, 0, run.stderr)
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    assert.deepEqual(
      lines.map((line) => [line.event, line.data.id, line.data.state]),
      [
        ['job', 'job-1', 'running'],
        ['task', 't-1', 'running'],
        ['job', 'job-1', 'succeeded'],
      ],
    )
  })

  it('exits 4 when the watched job fails, with its error', async () => {
    const job = makeJob('job-1', { state: 'running' })
    server.jobs.push(job)
    server.eventScript = async (stream) => {
      const error = { code: 'MASTER_GONE', message: 'the master is gone', retryable: false }
      stream.send('task', makeTask('t-1', 'job-1', { state: 'failed', error }))
      stream.send('job', {
        ...job,
        state: 'failed',
        error: { code: 'MASTER_GONE', message: 'the master is gone' },
      })
    }

    const run = await pressmesh(['watch', ...connection, 'job-1'])
    assert.equal(run.code, 4)
    assert.match(run.stdout, /task t-1 pack tar failed .*the master is gone \[MASTER_GONE\]/)
    assert.equal(run.stderr, 'pressmesh: job job-1 failed: the master is gone [MASTER_GONE]\n')
  })

  it('exits 4 at once for a job that was already cancelled', async () => {
    server.jobs.push(makeJob('job-1', { state: 'cancelled' }))

    const run = await pressmesh(['watch', ...connection, 'job-1'])
    assert.equal(run.code, 4)
    assert.equal(run.stderr, 'pressmesh: job job-1 was cancelled\n')
  })

  it('reconnects when the stream drops and sees a final state reached meanwhile', async () => {
    const job = makeJob('job-1', { state: 'running' })
    server.jobs.push(job)
    server.eventScript = async (stream, connection) => {
      if (connection === 1) {
        stream.send('task', makeTask('t-1', 'job-1', { state: 'running' }))
        await sleep(20)
        stream.drop()
        return
      }

      if (connection === 2) {
        // Cut again with half a message sent; the job finishes while the client is away.
        stream.raw('event: task\ndata: {"id":')
        await sleep(20)
        job.state = 'succeeded'
        stream.drop()
      }
    }

    const run = await pressmesh(['watch', ...connection, 'job-1'])
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stderr, /event stream lost .*reconnecting in 0\.3 s \(attempt 1\)/)
    assert.match(run.stderr, /reconnecting in 0\.5 s \(attempt 2\)/)
    assert.match(run.stdout, /job job-1 succeeded\n$/)
    const streams = server.requests.filter((r) => r.path.startsWith('/api/v1/events'))
    assert.equal(streams.length, 3)
    assert.equal(streams[1].lastEventId, '1')
  })

  it('prints a job status with its tasks and last events', async () => {
    server.jobs.push(makeJob('job-1', { state: 'running' }))
    server.tasks.push(
      makeTask('t-1', 'job-1', {
        state: 'running',
        node: '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo',
        progress: { phase: 'writing', done: 1024 * 1024, total: 4 * 1024 * 1024 },
      }),
    )
    server.events.push({
      seq: 1,
      at: 1_767_225_660_000,
      job: 'job-1',
      state: 'running',
      message: 'started',
    })

    const run = await pressmesh(['status', ...connection, 'job-1'])
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /^state +running$/m)
    assert.match(
      run.stdout,
      /^t-1 +pack +tar +running +12D3KooW…CVe2Xo +1\/3 +writing 1\.00 MiB \/ 4\.00 MiB$/m,
    )
    assert.match(run.stdout, /2026-01-01 00:01:00 running: started/)

    const json = await pressmesh(['status', ...connection, 'job-1', '--json'])
    assert.deepEqual(Object.keys(JSON.parse(json.stdout)), ['job', 'tasks', 'events'])
  })

  it('lists the nodes as a table and drains one and takes it back', async () => {
    const peer = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
    server.nodes.push(makeNode(peer, { running: 1, roles: ['production', 'staging'] }))

    const table = await pressmesh(['nodes', ...connection])
    assert.equal(table.code, 0, table.stderr)
    assert.match(table.stdout, /^PEER +SITE +ROLES +SLOTS +LOAD +RUNNING +ALIVE +DRAIN$/m)
    assert.match(
      table.stdout,
      /^12D3KooW…CVe2Xo +berlin +production,staging +2 +0\.25 +1 +alive +-$/m,
    )

    const drained = await pressmesh(['drain', ...connection, peer])
    assert.equal(drained.stdout, `node ${peer} draining (1 tasks running)\n`)
    assert.deepEqual(server.requests.at(-1)?.body, { drain: true })

    const back = await pressmesh(['drain', ...connection, peer, '--undo'])
    assert.equal(back.stdout, `node ${peer} in service (1 tasks running)\n`)
    assert.deepEqual(server.requests.at(-1)?.body, { drain: false })
  })

  it('prints a new token once with a warning, lists and revokes tokens', async () => {
    const created = await pressmesh([
      'token',
      'create',
      ...connection,
      '--name',
      'ci',
      '--role',
      'viewer',
    ])
    assert.equal(created.code, 0, created.stderr)
    assert.equal(created.stdout, 'token tok-1 (ci, viewer)\nsecret-of-tok-1\n')
    assert.match(created.stderr, /only time the token is shown/)

    const badRole = await pressmesh([
      'token',
      'create',
      ...connection,
      '--name',
      'ci',
      '--role',
      'root',
    ])
    assert.equal(badRole.code, 2)
    assert.match(badRole.stderr, /--role: /)

    const listed = await pressmesh(['token', 'list', ...connection, '--json'])
    assert.deepEqual(
      JSON.parse(listed.stdout).map((t: { name: string }) => t.name),
      ['ci'],
    )

    const revoked = await pressmesh(['token', 'revoke', ...connection, 'tok-1'])
    assert.equal(revoked.stdout, 'token tok-1 (ci) revoked\n')
    assert.equal(server.requests.at(-1)?.path, '/api/v1/tokens/tok-1')
  })

  it('exits 2 naming the file when the default config file is malformed', async (t) => {
    const dir = await tempDir(t)
    await mkdir(join(dir, 'pressmesh'))
    await writeFile(join(dir, 'pressmesh', 'client.json'), '{"coordinator": "http://x", "tokn": 1}')
    const saved = process.env.XDG_CONFIG_HOME
    process.env.XDG_CONFIG_HOME = dir
    t.after(() => {
      process.env.XDG_CONFIG_HOME = saved
    })

    const run = await pressmesh(['jobs'])
    assert.equal(run.code, 2)
    assert.match(run.stderr, /client\.json: Unrecognized key: "tokn" \[CONFIG_INVALID\]$/m)
  })
})
