import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  drainBodySchema,
  type JobEvent,
  type JobView,
  type NodeView,
  type TaskView,
  type TokenView,
  tokenCreateSchema,
} from '../../protocol/api.ts'
import { jobSubmitSchema } from '../../protocol/jobs.ts'

// For the client's tests only: a small HTTP server that speaks the coordinator's API contract
// (protocol/api.ts) over real sockets, with its jobs, tasks and event streams in memory. It does
// no dispatching; a test drives the job through its states with the event scripts it installs.

export interface RecordedRequest {
  method: string
  path: string
  authorization?: string
  lastEventId?: string
  body?: unknown
}

export interface EventStream {
  /** Writes one message: `event:`, `id:` and the document as `data:`. */
  send(event: 'job' | 'task' | 'node', data: unknown): void
  /** Writes raw bytes, for comments and malformed frames. */
  raw(text: string): void
  /** Ends the response cleanly. */
  end(): void
  /** Cuts the connection without ending the chunked body. */
  drop(): void
}

/** Runs for each connection to /api/v1/events; `connection` counts from 1. */
export type EventScript = (stream: EventStream, connection: number) => void | Promise<void>

export interface TestCoordinator {
  url: string
  requests: RecordedRequest[]
  jobs: JobView[]
  tasks: TaskView[]
  events: JobEvent[]
  nodes: NodeView[]
  tokens: TokenView[]
  /** Connections made to /api/v1/events so far; a test may reset it. */
  eventConnections: number
  /** Page size of GET /api/v1/jobs when the client sends no limit. */
  pageSize: number
  eventScript: EventScript
  close(): Promise<void>
}

export const TEST_TOKEN = 'test-token-secret'

export async function startTestCoordinator(): Promise<TestCoordinator> {
  const sockets = new Set<import('node:net').Socket>()
  const state: TestCoordinator = {
    url: '',
    requests: [],
    jobs: [],
    tasks: [],
    events: [],
    nodes: [],
    tokens: [],
    eventConnections: 0,
    pageSize: 50,
    eventScript: (stream) => stream.end(),
    close: async () => {
      for (const socket of sockets) {
        socket.destroy()
      }
      server.close()
      await once(server, 'close')
    },
  }

  const server = createServer((req, res) => {
    handle(state, req, res).catch((err: Error) => {
      if (!res.headersSent) {
        answer(res, 500, { error: { code: 'TEST_SERVER', message: err.message } })
      }
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return state
}

async function handle(
  state: TestCoordinator,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost')
  const body = await readBody(req)
  state.requests.push({
    method: req.method ?? '',
    path: `${url.pathname}${url.search}`,
    authorization: req.headers.authorization,
    lastEventId: req.headers['last-event-id'] as string | undefined,
    body,
  })

  if (req.headers.authorization !== `Bearer ${TEST_TOKEN}`) {
    return answer(res, 401, { error: { code: 'AUTH_BAD_TOKEN', message: 'unknown token' } })
  }

  const route = `${req.method} ${url.pathname}`
  const jobMatch = /^\/api\/v1\/jobs\/([^/]+)(\/cancel)?$/.exec(url.pathname)

  if (route === 'POST /api/v1/jobs') {
    return submit(state, body, res)
  }

  if (route === 'GET /api/v1/jobs') {
    return list(state, url.searchParams, res)
  }

  if (route === 'GET /api/v1/events') {
    return events(state, req, res, ++state.eventConnections)
  }

  if (route === 'GET /api/v1/nodes') {
    return answer(res, 200, { nodes: state.nodes })
  }

  const drainMatch = /^\/api\/v1\/nodes\/([^/]+)\/drain$/.exec(url.pathname)
  if (req.method === 'POST' && drainMatch !== null) {
    return drain(state, decodeURIComponent(drainMatch[1]), body, res)
  }

  if (url.pathname.startsWith('/api/v1/tokens')) {
    return tokens(state, req.method ?? '', url.pathname, body, res)
  }

  if (jobMatch !== null) {
    const job = state.jobs.find((candidate) => candidate.id === jobMatch[1])

    if (job === undefined) {
      return answer(res, 404, { error: { code: 'JOB_NOT_FOUND', message: 'no such job' } })
    }

    if (req.method === 'POST' && jobMatch[2] !== undefined) {
      job.state = 'cancelled'
      return answer(res, 200, { job })
    }

    const tasks = state.tasks.filter((task) => task.job === job.id)
    const events = state.events.filter((event) => event.job === job.id)
    return answer(res, 200, { job, tasks, events })
  }

  answer(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${route}` } })
}

function submit(state: TestCoordinator, body: unknown, res: ServerResponse): void {
  const parsed = jobSubmitSchema.safeParse(body)
  if (!parsed.success) {
    answer(res, 400, { error: { code: 'JOB_INVALID', message: parsed.error.message } })
    return
  }

  const input = parsed.data
  const earlier = state.jobs.find(
    (job) => input.idempotencyKey !== undefined && job.idempotencyKey === input.idempotencyKey,
  )

  if (earlier !== undefined) {
    answer(res, 200, { job: earlier })
    return
  }

  const job = makeJob(`job-${state.jobs.length + 1}`, {
    kind: input.kind === 'preheat' ? 'preheat' : 'publish',
    product: input.product,
    version: input.version,
    master: input.master,
    media: input.media ?? [],
    priority: input.priority,
    idempotencyKey: input.idempotencyKey,
  })
  state.jobs.unshift(job)
  answer(res, 201, { job })
}

function drain(state: TestCoordinator, peer: string, body: unknown, res: ServerResponse): void {
  const node = state.nodes.find((candidate) => candidate.peer === peer)
  const parsed = drainBodySchema.safeParse(body)

  if (node === undefined || !parsed.success) {
    const [status, code] = node === undefined ? [404, 'NODE_NOT_FOUND'] : [400, 'BODY_INVALID']
    answer(res, status, { error: { code, message: `cannot drain ${peer}` } })
    return
  }

  node.draining = parsed.data.drain
  answer(res, 200, { node })
}

function tokens(
  state: TestCoordinator,
  method: string,
  path: string,
  body: unknown,
  res: ServerResponse,
): void {
  if (method === 'GET' && path === '/api/v1/tokens') {
    answer(res, 200, { tokens: state.tokens })
    return
  }

  const parsed = tokenCreateSchema.safeParse(body)
  if (method === 'POST' && path === '/api/v1/tokens' && parsed.success) {
    const token = { id: `tok-${state.tokens.length + 1}`, createdAt: Date.now(), ...parsed.data }
    state.tokens.push(token)
    answer(res, 201, { ...token, token: `secret-of-${token.id}` })
    return
  }

  const token = state.tokens.find((candidate) => path === `/api/v1/tokens/${candidate.id}`)
  if (method === 'DELETE' && token !== undefined) {
    token.revokedAt = Date.now()
    answer(res, 200, { token })
    return
  }

  answer(res, 400, { error: { code: 'TOKEN_REQUEST_INVALID', message: 'bad token request' } })
}

function list(state: TestCoordinator, query: URLSearchParams, res: ServerResponse): void {
  const limit = Number(query.get('limit') ?? state.pageSize)
  const start = Number(query.get('cursor')?.replace(/^at-/, '') ?? 0)
  const matching = state.jobs.filter(
    (job) =>
      (query.get('state') ?? job.state) === job.state &&
      (query.get('product') ?? job.product) === job.product,
  )
  const page = matching.slice(start, start + limit)
  const next = start + limit < matching.length ? `at-${start + limit}` : undefined
  answer(res, 200, next === undefined ? { jobs: page } : { jobs: page, next })
}

async function events(
  state: TestCoordinator,
  req: IncomingMessage,
  res: ServerResponse,
  connection: number,
): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  res.write(': connected\n\n')
  let seq = Number(req.headers['last-event-id'] ?? 0)

  const stream: EventStream = {
    send(event, data) {
      seq++
      res.write(`event: ${event}\nid: ${seq}\ndata: ${JSON.stringify(data)}\n\n`)
    },
    raw: (text) => res.write(text),
    end: () => res.end(),
    drop: () => res.socket?.destroy(),
  }

  await state.eventScript(stream, connection)
}

function answer(res: ServerResponse, status: number, document: unknown): void {
  const text = JSON.stringify(document)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': text.length })
  res.end(text)
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const pieces: Buffer[] = []

  for await (const piece of req) {
    pieces.push(piece as Buffer)
  }

  return pieces.length === 0 ? undefined : JSON.parse(Buffer.concat(pieces).toString('utf8'))
}

export function makeJob(id: string, fields: Partial<JobView> = {}): JobView {
  return {
    id,
    kind: 'publish',
    product: 'atlas',
    version: '1.0',
    master: 'https://storage.example/atlas/1.0/',
    media: [{ format: 'tar' }],
    priority: 5,
    state: 'queued',
    submittedBy: 'admin',
    tasks: {},
    createdAt: 1_767_225_600_000,
    updatedAt: 1_767_225_600_000,
    ...fields,
  }
}

export function makeTask(id: string, job: string, fields: Partial<TaskView> = {}): TaskView {
  return {
    id,
    job,
    kind: 'pack',
    state: 'queued',
    attempt: 1,
    maxAttempts: 3,
    medium: { format: 'tar' },
    createdAt: 1_767_225_600_000,
    updatedAt: 1_767_225_600_000,
    ...fields,
  }
}

export function makeNode(peer: string, fields: Partial<NodeView> = {}): NodeView {
  return {
    peer,
    roles: ['production'],
    site: 'berlin',
    slots: 2,
    load: 0.25,
    freeDiskBytes: 50e9,
    version: '0.1.0',
    addrs: [],
    connected: true,
    alive: true,
    draining: false,
    lastSeen: 1_767_225_600_000,
    running: 0,
    ...fields,
  }
}
