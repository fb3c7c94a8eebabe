import { type ChildProcess, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import type { JobDetail, JobView, NodeView } from '../../protocol/api.ts'
import { freePort } from './nginx.ts'

// A real coordinator process for tests (`pressmesh coordinator`), on fixed free ports so that it
// can be killed and started again where nodes will find it, driven over its HTTP API.

const BIN = fileURLToPath(new URL('../../cli/bin/pressmesh.js', import.meta.url))

export interface TestCoordinator {
  url: string
  token: string
  peerId: string
  /** Mesh address with /p2p/, for nodes' --bootstrap. */
  bootstrap: string
  process(): ChildProcess
  api<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }>
  submit(body: unknown): Promise<JobView>
  detail(id: string): Promise<JobDetail>
  nodes(): Promise<NodeView[]>
  waitForNodes(count: number, timeoutMs?: number): Promise<NodeView[]>
  waitForJob(id: string, timeoutMs?: number): Promise<JobDetail>
  kill(signal?: NodeJS.Signals): Promise<void>
  start(): Promise<void>
}

export interface CoordinatorOptions {
  dataDir: string
  media: string
  leaseMs?: number
}

export async function startCoordinatorProcess(
  options: CoordinatorOptions,
): Promise<TestCoordinator> {
  const port = await freePort()
  const meshPort = await freePort()
  let child: ChildProcess | undefined
  let ready: { url: string; peerId: string; addresses: string[] } | undefined
  let stderr = ''

  const start = async () => {
    child = spawn(
      process.execPath,
      [
        BIN,
        'coordinator',
        '--data',
        options.dataDir,
        '--port',
        String(port),
        '--listen',
        `/ip4/127.0.0.1/tcp/${meshPort}`,
        '--media',
        options.media,
        ...(options.leaseMs ? ['--lease-ms', String(options.leaseMs)] : []),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          PRESSMESH_LOG_LEVEL: process.env.PRESSMESH_TEST_LOG ?? 'warn',
          PRESSMESH_LOG_FORMAT: 'json',
        },
      },
    )
    const proc = child
    proc.stderr?.on('data', (data) => {
      stderr = (stderr + data).slice(-8000)
      if (process.env.PRESSMESH_TEST_LOG) {
        process.stderr.write(`[coordinator] ${data}`)
      }
    })
    ready = await new Promise((resolve, reject) => {
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        try {
          const event = JSON.parse(line)
          if (event.event === 'ready') resolve(event)
        } catch {
          // not ours
        }
      })
      proc.once('exit', (code) => reject(new Error(`coordinator exited with ${code}: ${stderr}`)))
    })
  }

  await start()
  const token = (await readFile(join(options.dataDir, 'admin-token'), 'utf8')).trim()
  const url = ready!.url

  const api = async <T>(method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    })
    return { status: response.status, body: (await response.json()) as T }
  }

  const coordinator: TestCoordinator = {
    url,
    token,
    peerId: ready!.peerId,
    bootstrap: ready!.addresses[0],
    process: () => child!,
    api,
    async submit(body) {
      const answer = await api<{ job: JobView }>('POST', '/api/v1/jobs', body)
      if (answer.status !== 201 && answer.status !== 200) {
        throw new Error(`submit answered ${answer.status}: ${JSON.stringify(answer.body)}`)
      }
      return answer.body.job
    },
    async detail(id) {
      return (await api<JobDetail>('GET', `/api/v1/jobs/${id}`)).body
    },
    async nodes() {
      return (await api<{ nodes: NodeView[] }>('GET', '/api/v1/nodes')).body.nodes
    },
    async waitForNodes(count, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        const alive = (await coordinator.nodes()).filter((node) => node.alive)
        if (alive.length >= count) return alive
        await sleep(200)
      }
      throw new Error(`fewer than ${count} nodes joined the coordinator`)
    },
    async waitForJob(id, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        const detail = await coordinator.detail(id).catch(() => undefined)
        if (detail && ['succeeded', 'failed', 'cancelled'].includes(detail.job.state)) return detail
        await sleep(200)
      }
      throw new Error(`job ${id} did not finish in ${timeoutMs} ms`)
    },
    async kill(signal = 'SIGTERM') {
      const proc = child
      if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return
      const exited = new Promise((resolve) => proc.once('exit', resolve))
      proc.kill(signal)
      await exited
    },
    start,
  }
  return coordinator
}
