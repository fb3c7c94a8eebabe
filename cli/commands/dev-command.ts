import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { access, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import {
  generateReleaseKeys,
  PRIVATE_KEY_FILE,
  PUBLIC_KEY_FILE,
} from '../../node/media/release-key.ts'
import type { JobDetail, NodeView } from '../../protocol/api.ts'
import { PressmeshError } from '../../protocol/errors.ts'
import { writePrivate } from '../../protocol/mesh/keys.ts'
import { startStorageServer } from '../dev/storage-server.ts'
import { UsageError } from '../exit-codes.ts'
import { ensureSampleMaster, SAMPLE_VERSION } from '../sample-master.ts'
import { withMallocTuning } from '../../node/heap-tuning.ts'

export const DEV_USAGE = `usage: pressmesh dev [--data DIR] [--port PORT] [--mesh-port PORT]
                     [--storage-port PORT]                     [--no-sample-job]

Runs a whole Pressmesh locally with embedded defaults, all data under DIR (default .pressmesh/):
a coordinator on http://127.0.0.1:PORT (default 8080; mesh port default 4001), three nodes (two
production, one staging) as separate processes, a storage server on loopback (nginx when
installed, else a built-in one; port default 8081) serving a generated sample master (~100 MB),
and the media folder DIR/media. It submits a sample job (tar and iso), prints the dashboard URL,
the admin token and where the media landed, and runs until Ctrl-C, which stops every process it
started. Logs go to DIR/logs/. A second run reuses the data.`

const BIN = fileURLToPath(new URL('../bin/pressmesh.js', import.meta.url))
const READY_TIMEOUT_MS = 60_000
const JOB_TIMEOUT_MS = 10 * 60_000

interface Child {
  name: string
  process: ChildProcess
  ready: Record<string, unknown>
}

export async function devCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string', default: '.pressmesh' },
      port: { type: 'string', default: '8080' },
      'mesh-port': { type: 'string', default: '4001' },
      'storage-port': { type: 'string', default: '8081' },
      'no-sample-job': { type: 'boolean', default: false },
    },
  })

  const data = resolve(values.data)
  const port = portNumber(values.port, '--port')
  const meshPort = portNumber(values['mesh-port'], '--mesh-port')
  const storagePort = portNumber(values['storage-port'], '--storage-port')
  const say = (line: string) => process.stdout.write(`${line}\n`)
  await mkdir(join(data, 'logs'), { recursive: true })
  say(`pressmesh dev: data under ${data}, logs in ${join(data, 'logs')}`)

  const master = await ensureSampleMaster(join(data, 'sample'))
  const releaseKey = await ensureReleaseKey(data)
  const children: Child[] = []
  let storage: Awaited<ReturnType<typeof startStorageServer>> | undefined

  const stopAll = async () => {
    await Promise.all(children.map((child) => stopChild(child.process)))
    await storage?.stop()
  }
  let interrupted = false
  const interrupt = new Promise<void>((done) => {
    const onSignal = () => {
      interrupted = true
      done()
    }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
  })

  try {
    storage = await startStorageServer(join(data, 'sample'), join(data, 'storage'), storagePort)
    const masterUrl = `${storage.url}/${master.split('/').pop()}/`
    say(`storage server (${storage.kind}): ${masterUrl}`)

    const coordinator = await spawnChild(data, 'coordinator', [
      'coordinator',
      '--data',
      join(data, 'coordinator'),
      '--port',
      String(port),
      '--listen',
      `/ip4/127.0.0.1/tcp/${meshPort}`,
      '--media',
      join(data, 'media'),
      '--admin-token-file',
      join(data, 'admin-token'),
    ])
    children.push(coordinator)
    const url = String(coordinator.ready.url)
    const bootstrap = (coordinator.ready.addresses as string[])[0]
    const token = (await readFile(join(data, 'admin-token'), 'utf8')).trim()

    const nodes = [
      { name: 'prod-1', roles: 'production' },
      { name: 'prod-2', roles: 'production' },
      { name: 'staging-1', roles: 'staging' },
    ]
    for (const node of nodes) {
      children.push(
        await spawnChild(data, node.name, [
          'node',
          '--data',
          join(data, 'nodes', node.name),
          '--roles',
          node.roles,
          '--site',
          'dev',
          '--bootstrap',
          bootstrap,
          '--release-key',
          releaseKey,
        ]),
      )
    }

    await waitForNodes(url, token, nodes.length)
    say(`coordinator: ${url} with ${nodes.length} nodes (2 production, 1 staging)`)
    say(`dashboard:   ${url}/`)
    say(`admin token: ${token}  (also in ${join(data, 'admin-token')})`)

    if (!values['no-sample-job']) {
      const detail = await runSampleJob(url, token, masterUrl, say, () => interrupted)
      if (detail !== undefined) {
        for (const task of detail.tasks) {
          if (task.output?.location !== undefined) {
            say(`media:       ${task.medium?.format} → ${task.output.location}`)
          }
        }
      }
    }

    say(
      '\nrunning; try: pressmesh jobs, pressmesh nodes, pressmesh status <id>. ' +
        'Ctrl-C stops it all.',
    )
    await Promise.race([interrupt, ...children.map((child) => exited(child))])
    if (!interrupted) {
      const gone = children.find(
        (child) => child.process.exitCode !== null || child.process.signalCode !== null,
      )
      throw new PressmeshError(
        'DEV_CHILD_EXITED',
        `${gone?.name} stopped; see ${join(data, 'logs')}`,
      )
    }
    say('stopping')
    return 0
  } finally {
    await stopAll()
  }
}

async function runSampleJob(
  url: string,
  token: string,
  master: string,
  say: (line: string) => void,
  interrupted: () => boolean,
): Promise<JobDetail | undefined> {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const response = await fetch(`${url}/api/v1/jobs`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      product: 'sample',
      version: SAMPLE_VERSION,
      master,
      media: [{ format: 'tar' }, { format: 'iso' }],
      // A second `npm start` finds the first run's job instead of making the media again.
      idempotencyKey: `dev-sample-${SAMPLE_VERSION}`,
    }),
  })
  const submitted = (await response.json()) as { job: { id: string } }
  const id = submitted.job.id
  say(`sample job:  ${id} ${response.status === 200 ? '(from an earlier run)' : 'submitted'}`)

  const deadline = Date.now() + JOB_TIMEOUT_MS
  let last = ''
  while (Date.now() < deadline && !interrupted()) {
    const detail = (await (
      await fetch(`${url}/api/v1/jobs/${id}`, { headers })
    ).json()) as JobDetail
    const summary = detail.tasks
      .map((task) => `${task.kind === 'pack' ? task.medium?.format : task.kind} ${task.state}`)
      .join(', ')
    if (summary !== last) {
      say(`             ${detail.job.state}: ${summary}`)
      last = summary
    }
    if (['succeeded', 'failed', 'cancelled'].includes(detail.job.state)) {
      if (detail.job.state !== 'succeeded') {
        say(`sample job ${detail.job.state}: ${detail.job.error?.message ?? ''}`)
      }
      return detail
    }
    await sleep(500)
  }
  return undefined
}

async function waitForNodes(url: string, token: string, count: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    const response = await fetch(`${url}/api/v1/nodes`, {
      headers: { authorization: `Bearer ${token}` },
    })
    const { nodes } = (await response.json()) as { nodes: NodeView[] }
    if (nodes.filter((node) => node.alive).length >= count) {
      return
    }
    await sleep(250)
  }
  throw new PressmeshError(
    'DEV_NODES_MISSING',
    `fewer than ${count} nodes joined within ${READY_TIMEOUT_MS / 1000} s`,
  )
}

async function ensureReleaseKey(data: string): Promise<string> {
  const path = join(data, PRIVATE_KEY_FILE)
  const exists = await access(path).then(
    () => true,
    () => false,
  )
  if (!exists) {
    const pair = generateReleaseKeys()
    await writePrivate(path, pair.privatePem)
    await writeFile(join(data, PUBLIC_KEY_FILE), pair.publicPem)
  }
  return path
}

/** Starts `pressmesh <args>` with its logs in DIR/logs and waits for its JSON "ready" line. */
async function spawnChild(data: string, name: string, args: string[]): Promise<Child> {
  const log = createWriteStream(join(data, 'logs', `${name}.log`), { flags: 'a' })
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env:
      args[0] === 'node'
        ? withMallocTuning({ ...process.env, PRESSMESH_LOG_FORMAT: 'json' })
        : { ...process.env, PRESSMESH_LOG_FORMAT: 'json' },
  })
  child.stderr?.pipe(log)

  const ready = await new Promise<Record<string, unknown>>((done, fail) => {
    const timer = setTimeout(
      () => fail(new PressmeshError('DEV_START_TIMEOUT', `${name} did not start; see its log`)),
      READY_TIMEOUT_MS,
    )
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', (line) => {
      log.write(`${line}\n`)
      try {
        const event = JSON.parse(line)
        if (event.event === 'ready') {
          clearTimeout(timer)
          done(event)
        }
      } catch {
        // a plain line
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      fail(
        new PressmeshError(
          'DEV_START_FAILED',
          `${name} exited with ${code} while starting; see ${join(data, 'logs', `${name}.log`)}`,
        ),
      )
    })
  })

  return { name, process: child, ready }
}

function exited(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) {
    return Promise.resolve()
  }
  return new Promise((done) => child.process.once('exit', () => done()))
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return
  }
  const gone = new Promise((done) => child.once('exit', done))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await gone
  clearTimeout(timer)
}

function portNumber(text: string, flag: string): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new UsageError(`${flag} must be a port number, got "${text}"`)
  }
  return value
}
