import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { serveStatic } from '@hono/node-server/serve-static'
import { type Context, Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { streamSSE } from 'hono/streaming'
import { z } from 'zod'
import {
  drainBodySchema,
  errorBodySchema,
  jobDetailSchema,
  jobListQuerySchema,
  jobListSchema,
  jobViewSchema,
  meshInfoSchema,
  nodeListSchema,
  nodeViewSchema,
  type Role,
  tokenCreatedSchema,
  tokenCreateSchema,
  tokenListSchema,
  tokenViewSchema,
} from '../protocol/api.ts'
import {
  InvalidInputError,
  isPressmeshError,
  NotFoundError,
  PressmeshError,
} from '../protocol/errors.ts'
import { describeIssue, jobSubmitSchema } from '../protocol/jobs.ts'
import type { Logger } from '../protocol/logger.ts'
import { grants, type Principal, type TokenBook } from './auth.ts'
import type { EventBus } from './event-bus.ts'
import { JOB_ID_PATTERN, type JobBook } from './job-book.ts'
import type { CoordinatorMetrics } from './metrics.ts'
import { openApiDocument, type RouteDef } from './openapi.ts'

// The coordinator's HTTP API under /api/v1. Every route is declared once in ROUTES with the role
// it needs and the schemas of its body, query and answer; the same table builds the OpenAPI
// document, so the two cannot drift apart. Errors always answer {"error": {"code", "message"}}.

export const MAX_BODY_BYTES = 256 * 1024
const SSE_PING_MS = 15_000
const PEER_PATTERN = /^[1-9A-HJ-NP-Za-km-z]{16,128}$/

export interface ApiServices {
  book: JobBook
  tokens: TokenBook
  bus: EventBus
  metrics: CoordinatorMetrics
  log: Logger
  /** Submits a job (resolving preheat targets against the live mesh). */
  submit(body: z.infer<typeof jobSubmitSchema>, by: Principal): ReturnType<JobBook['submit']>
  nodes(): z.infer<typeof nodeViewSchema>[]
  drain(peer: string, drain: boolean): Promise<z.infer<typeof nodeViewSchema>>
  /** The coordinator's peer id and mesh addresses, for nodes that join by its URL. */
  mesh(): z.infer<typeof meshInfoSchema>
}

type Env = { Variables: { principal: Principal } }
type Handler = (
  c: Context<Env>,
  input: { body: unknown; query: unknown },
) => Promise<Response> | Response

const error = (code: string, message: string) => ({ error: { code, message } })

export const ROUTES: (RouteDef & { handler: (s: ApiServices) => Handler })[] = [
  {
    method: 'post',
    path: '/api/v1/jobs',
    role: 'release-engineer',
    summary: 'Submit a job (publish media, preheat a master, or a no-op dispatch check)',
    body: jobSubmitSchema,
    responses: [
      { status: 201, schema: jobViewWrap(), description: 'the new job' },
      {
        status: 200,
        schema: jobViewWrap(),
        description: 'the job first submitted with this idempotency key',
      },
    ],
    handler:
      (s) =>
      async (c, { body }) => {
        const result = await s.submit(body as z.infer<typeof jobSubmitSchema>, c.get('principal'))
        if (result.created) {
          s.metrics.jobsSubmitted.inc({ kind: result.job.kind })
        }
        return c.json({ job: result.job }, result.created ? 201 : 200)
      },
  },
  {
    method: 'get',
    path: '/api/v1/jobs',
    role: 'viewer',
    summary: 'List jobs, newest first',
    query: jobListQuerySchema,
    responses: [{ status: 200, schema: jobListSchema, description: 'a page of jobs' }],
    handler:
      (s) =>
      async (c, { query }) =>
        c.json(await s.book.list(query as z.infer<typeof jobListQuerySchema>)),
  },
  {
    method: 'get',
    path: '/api/v1/jobs/:id',
    role: 'viewer',
    summary: 'A job with its tasks and events',
    responses: [{ status: 200, schema: jobDetailSchema, description: 'the job' }],
    handler: (s) => async (c) => c.json(await s.book.detail(jobId(c))),
  },
  {
    method: 'post',
    path: '/api/v1/jobs/:id/cancel',
    role: 'release-engineer',
    summary: 'Cancel a job; tasks running on nodes are stopped there',
    responses: [{ status: 200, schema: jobViewWrap(), description: 'the job after cancelling' }],
    handler: (s) => async (c) =>
      c.json({ job: await s.book.cancel(jobId(c), c.get('principal').name) }),
  },
  {
    method: 'get',
    path: '/api/v1/nodes',
    role: 'viewer',
    summary: 'Nodes of the mesh with their presence data',
    responses: [{ status: 200, schema: nodeListSchema, description: 'every node seen' }],
    handler: (s) => (c) => c.json({ nodes: s.nodes() }),
  },
  {
    method: 'post',
    path: '/api/v1/nodes/:peer/drain',
    role: 'operator',
    summary: 'Drain a node (no new tasks) or undo it',
    body: drainBodySchema,
    responses: [{ status: 200, schema: nodeWrap(), description: 'the node' }],
    handler:
      (s) =>
      async (c, { body }) => {
        const peer = c.req.param('peer') ?? ''
        if (!PEER_PATTERN.test(peer)) {
          throw new InvalidInputError('BAD_ID', `"${peer.slice(0, 80)}" is not a peer id`)
        }
        return c.json({ node: await s.drain(peer, (body as { drain: boolean }).drain) })
      },
  },
  {
    method: 'get',
    path: '/api/v1/events',
    role: 'viewer',
    summary: 'Server-sent events of job, task and node changes (?job= for one job)',
    responses: [{ status: 200, description: 'text/event-stream; events job, task, node' }],
    handler: (s) => (c) => events(s, c),
  },
  {
    method: 'get',
    path: '/api/v1/mesh',
    role: 'public',
    summary:
      "The coordinator's peer id and mesh addresses (what `pressmesh node --coordinator` reads)",
    responses: [{ status: 200, schema: meshInfoSchema, description: 'where to join the mesh' }],
    handler: (s) => (c) => c.json(s.mesh()),
  },
  {
    method: 'get',
    path: '/api/v1/tokens',
    role: 'admin',
    summary: 'List tokens (never their secrets)',
    responses: [{ status: 200, schema: tokenListSchema, description: 'every token' }],
    handler: (s) => (c) => c.json({ tokens: s.tokens.list() }),
  },
  {
    method: 'post',
    path: '/api/v1/tokens',
    role: 'admin',
    summary: 'Create a token; the answer is the only time its secret is shown',
    body: tokenCreateSchema,
    responses: [
      { status: 201, schema: tokenCreatedSchema, description: 'the token and its secret' },
    ],
    handler:
      (s) =>
      async (c, { body }) => {
        const { name, role } = body as z.infer<typeof tokenCreateSchema>
        return c.json(await s.tokens.create(name, role), 201)
      },
  },
  {
    method: 'delete',
    path: '/api/v1/tokens/:id',
    role: 'admin',
    summary: 'Revoke a token',
    responses: [{ status: 200, schema: tokenWrap(), description: 'the revoked token' }],
    handler: (s) => async (c) => {
      const id = c.req.param('id') ?? ''
      if (!/^t[0-9a-f]{12}$/.test(id)) {
        throw new InvalidInputError('BAD_ID', `"${id.slice(0, 80)}" is not a token id`)
      }
      return c.json({ token: await s.tokens.revoke(id) })
    },
  },
]

function jobViewWrap() {
  return z.object({ job: jobViewSchema })
}
function nodeWrap() {
  return z.object({ node: nodeViewSchema })
}
function tokenWrap() {
  return z.object({ token: tokenViewSchema })
}

function jobId(c: Context): string {
  const id = c.req.param('id') ?? ''
  if (!JOB_ID_PATTERN.test(id)) {
    throw new InvalidInputError('BAD_ID', `"${id.slice(0, 80)}" is not a job id`)
  }
  return id
}

export function coordinatorApp(services: ApiServices): Hono<Env> {
  const app = new Hono<Env>()

  app.use('*', async (c, next) => {
    const started = performance.now()
    await next()
    const route = c.req.routePath || 'unmatched'
    services.metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) })
    services.metrics.httpSeconds.observe(
      { method: c.req.method, route },
      (performance.now() - started) / 1000,
    )
  })

  app.use(
    '/api/*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      // The unread rest of the body makes the connection unusable: say so, so clients do not
      // send their next request on it.
      onError: (c) =>
        c.json(
          error('BODY_TOO_LARGE', `request bodies are limited to ${MAX_BODY_BYTES} bytes`),
          413,
          {
            connection: 'close',
          },
        ),
    }),
  )

  app.get('/health', (c) => c.json({ status: 'ok', jobsActive: services.book.activeCount() }))
  app.get('/metrics', async (c) => {
    services.metrics.jobsActive.set(services.book.activeCount())
    services.metrics.sseClients.set(services.bus.size)
    return c.text(await services.metrics.registry.metrics(), 200, {
      'content-type': services.metrics.registry.contentType,
    })
  })
  app.get('/api/v1/openapi.json', (c) => c.json(openApiDocument(ROUTES)))

  for (const route of ROUTES) {
    const handler = route.handler(services)
    app.on(route.method.toUpperCase(), route.path, async (c) => {
      if (route.role !== 'public') {
        c.set('principal', authenticate(services.tokens, c, route.role))
      }
      const body = route.body === undefined ? undefined : await parseBody(c, route.body)
      const query = route.query === undefined ? undefined : parseQuery(c, route.query)
      return handler(c, { body, query })
    })
  }

  mountDashboard(app)

  app.notFound((c) => c.json(error('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`), 404))
  app.onError((err, c) => {
    const [status, code] = statusOf(err)
    if (status >= 500) {
      services.log.error({ err, path: c.req.path }, 'request failed')
    }
    return c.json(
      error(code, status >= 500 && !isPressmeshError(err) ? 'internal error' : err.message),
      status,
    )
  })

  return app
}

class HttpError extends PressmeshError {
  constructor(
    readonly status: ContentfulStatusCode,
    code: string,
    message: string,
  ) {
    super(code, message)
  }
}

function authenticate(tokens: TokenBook, c: Context, role: Role): Principal {
  const header = c.req.header('authorization') ?? ''
  const match = /^Bearer\s+(\S+)$/i.exec(header)
  if (match === null) {
    throw new HttpError(401, 'UNAUTHENTICATED', 'send a token: Authorization: Bearer <token>')
  }

  const principal = tokens.authenticate(match[1])
  if (principal === undefined) {
    throw new HttpError(401, 'UNAUTHENTICATED', 'the token is unknown or revoked')
  }
  if (!grants(principal.role, role)) {
    throw new HttpError(
      403,
      'FORBIDDEN',
      `this needs the ${role} role; the token has ${principal.role}`,
    )
  }
  return principal
}

async function parseBody(c: Context, schema: z.ZodType): Promise<unknown> {
  const text = await c.req.text()
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch {
    throw new InvalidInputError('BAD_JSON', 'the request body is not JSON')
  }
  const parsed = schema.safeParse(document)
  if (!parsed.success) {
    throw new InvalidInputError('INVALID_BODY', describeIssue(parsed.error))
  }
  return parsed.data
}

function parseQuery(c: Context, schema: z.ZodType): unknown {
  const parsed = schema.safeParse(c.req.query())
  if (!parsed.success) {
    throw new InvalidInputError('INVALID_QUERY', describeIssue(parsed.error))
  }
  return parsed.data
}

/** Requests that are well formed but cannot be carried out against the mesh as it is. */
const CONFLICTS = ['NO_MATCHING_NODES', 'NODE_NOT_FOUND', 'NODE_DRAINING']

function statusOf(err: Error): [ContentfulStatusCode, string] {
  if (err instanceof HttpError) {
    return [err.status, err.code]
  }
  if (err instanceof NotFoundError) {
    return [404, err.code]
  }
  if (err instanceof InvalidInputError) {
    return [400, err.code]
  }
  if (isPressmeshError(err, 'TOO_MANY_JOBS') || isPressmeshError(err, 'TOO_MANY_STREAMS')) {
    return [503, err.code]
  }
  if (isPressmeshError(err) && CONFLICTS.includes(err.code)) {
    return [409, err.code]
  }
  // Hono's own HTTPException carries a status.
  const status = (err as { status?: number }).status
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return [status as ContentfulStatusCode, 'BAD_REQUEST']
  }
  return [500, isPressmeshError(err) ? err.code : 'INTERNAL']
}

function events(s: ApiServices, c: Context) {
  const job = c.req.query('job')
  if (job !== undefined && !JOB_ID_PATTERN.test(job)) {
    throw new InvalidInputError('BAD_ID', `"${job.slice(0, 80)}" is not a job id`)
  }

  const sub = s.bus.subscribe(job)
  if (sub === undefined) {
    throw new PressmeshError('TOO_MANY_STREAMS', 'too many open event streams; try again later')
  }

  return streamSSE(c, async (stream) => {
    stream.onAbort(() => sub.close())
    await stream.writeSSE({ event: 'hello', data: JSON.stringify({ job: job ?? null }) })

    while (!sub.closed) {
      const messages = await sub.next(SSE_PING_MS)
      if (messages.length === 0 && !sub.closed) {
        await stream.write(': ping\n\n')
      }
      for (const message of messages) {
        await stream.writeSSE({ id: String(message.id), event: message.event, data: message.data })
      }
    }
    if (sub.overflowed) {
      await stream
        .writeSSE({ event: 'overflow', data: '{"reconnect":true}' })
        .catch(() => undefined)
    }
  })
}

/** The dashboard's built files (web/dist) at /, or a short page pointing at the API. */
function mountDashboard(app: Hono<Env>): void {
  const dist = fileURLToPath(new URL('../web/dist', import.meta.url))
  if (existsSync(dist)) {
    app.use('/*', serveStatic({ root: dist }))
    return
  }

  app.get('/', (c) =>
    c.html(
      '<!doctype html><meta charset="utf-8"><title>Pressmesh</title>' +
        '<h1>Pressmesh coordinator</h1><p>The dashboard is not built into this copy. ' +
        'The API is at <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>; ' +
        'metrics at <a href="/metrics">/metrics</a>.</p>',
    ),
  )
}

export { errorBodySchema }
