import { z } from 'zod'
import {
  errorBodySchema,
  type JobDetail,
  jobDetailSchema,
  type jobListQuerySchema,
  jobListSchema,
  type JobView,
  jobViewSchema,
  type NodeView,
  nodeListSchema,
  nodeViewSchema,
  type Role,
  type TokenView,
  tokenCreatedSchema,
  tokenListSchema,
  tokenViewSchema,
} from '../../protocol/api.ts'
import type { JobSubmit } from '../../protocol/jobs.ts'
import { describeIssue } from '../../protocol/jobs.ts'
import { ApiError, BadResponseError, CoordinatorUnreachableError } from './errors.ts'

// A typed client of the coordinator's HTTP API (`/api/v1`). Every request has a timeout, every
// answer is read up to a bound and checked against the schemas the coordinator answers with.

export const REQUEST_TIMEOUT_MS = 15_000
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024

export interface CoordinatorClientInit {
  /** Base URL without the trailing slash, e.g. `http://127.0.0.1:8080`. */
  coordinator: string
  token?: string
  requestTimeoutMs?: number
  maxResponseBytes?: number
}

export type JobListQuery = Partial<z.output<typeof jobListQuerySchema>>

interface RequestOptions {
  body?: unknown
  signal?: AbortSignal
}

const jobEnvelope = z.object({ job: jobViewSchema })
const nodeEnvelope = z.object({ node: nodeViewSchema })
const tokenEnvelope = z.object({ token: tokenViewSchema })

export class CoordinatorClient {
  readonly coordinator: string
  private readonly token: string | undefined
  private readonly requestTimeoutMs: number
  private readonly maxResponseBytes: number

  constructor(init: CoordinatorClientInit) {
    this.coordinator = init.coordinator
    this.token = init.token
    this.requestTimeoutMs = init.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
    this.maxResponseBytes = init.maxResponseBytes ?? MAX_RESPONSE_BYTES
  }

  /** `created` is false when the idempotency key named an earlier job. */
  async submitJob(job: JobSubmit, signal?: AbortSignal) {
    const { document, status } = await this.request('POST', '/api/v1/jobs', jobEnvelope, {
      body: job,
      signal,
    })
    return { job: document.job, created: status === 201 }
  }

  async listJobs(query: JobListQuery = {}, signal?: AbortSignal) {
    const search = new URLSearchParams()

    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) {
        search.set(key, String(value))
      }
    }

    const text = search.size > 0 ? `?${search}` : ''
    const answer = await this.request('GET', `/api/v1/jobs${text}`, jobListSchema, { signal })
    return answer.document
  }

  async getJob(id: string, signal?: AbortSignal): Promise<JobDetail> {
    const path = `/api/v1/jobs/${encodeURIComponent(id)}`
    return (await this.request('GET', path, jobDetailSchema, { signal })).document
  }

  async cancelJob(id: string, signal?: AbortSignal): Promise<JobView> {
    const path = `/api/v1/jobs/${encodeURIComponent(id)}/cancel`
    return (await this.request('POST', path, jobEnvelope, { signal })).document.job
  }

  async listNodes(signal?: AbortSignal): Promise<NodeView[]> {
    return (await this.request('GET', '/api/v1/nodes', nodeListSchema, { signal })).document.nodes
  }

  async drainNode(peer: string, drain: boolean, signal?: AbortSignal): Promise<NodeView> {
    const path = `/api/v1/nodes/${encodeURIComponent(peer)}/drain`
    const answer = await this.request('POST', path, nodeEnvelope, { body: { drain }, signal })
    return answer.document.node
  }

  async createToken(name: string, role: Role, signal?: AbortSignal) {
    const body = { name, role }
    return (await this.request('POST', '/api/v1/tokens', tokenCreatedSchema, { body, signal }))
      .document
  }

  async listTokens(signal?: AbortSignal): Promise<TokenView[]> {
    return (await this.request('GET', '/api/v1/tokens', tokenListSchema, { signal })).document
      .tokens
  }

  async revokeToken(id: string, signal?: AbortSignal): Promise<TokenView> {
    const path = `/api/v1/tokens/${encodeURIComponent(id)}`
    return (await this.request('DELETE', path, tokenEnvelope, { signal })).document.token
  }

  /**
   * Opens the event stream. No overall timeout here: the stream lasts as long as the watch; the
   * reader applies an idle timeout instead. Only waiting for the answer's headers is bounded.
   */
  async openEvents(query: { job?: string; lastEventId?: string }, signal: AbortSignal) {
    const filter = query.job === undefined ? '' : `?job=${encodeURIComponent(query.job)}`
    const path = `/api/v1/events${filter}`
    const headers: Record<string, string> = { accept: 'text/event-stream' }

    if (query.lastEventId !== undefined) {
      headers['last-event-id'] = query.lastEventId
    }

    // Bound the wait for the headers only; the stream itself follows the caller's signal.
    const controller = new AbortController()
    const timer = setTimeout(
      () => controller.abort(new DOMException('no answer in time', 'TimeoutError')),
      this.requestTimeoutMs,
    )
    signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true })

    if (signal.aborted) {
      controller.abort(signal.reason)
    }

    let response: Response

    try {
      response = await this.send('GET', path, { headers, signal: controller.signal })
    } finally {
      clearTimeout(timer)
    }

    if (!response.ok) {
      throw await this.errorFrom('GET', path, response)
    }

    const type = response.headers.get('content-type') ?? ''
    if (!type.startsWith('text/event-stream') || response.body === null) {
      await response.body?.cancel().catch(() => {})
      throw new BadResponseError(
        `GET ${path} answered ${type || 'no content type'}, not an event stream`,
      )
    }

    return response.body
  }

  private async request<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    options: RequestOptions = {},
  ): Promise<{ document: z.output<S>; status: number }> {
    const timeout = AbortSignal.timeout(this.requestTimeoutMs)
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout
    const headers: Record<string, string> = { accept: 'application/json' }
    let body: string | undefined

    if (options.body !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(options.body)
    }

    const response = await this.send(method, path, { headers, body, signal })

    if (!response.ok) {
      throw await this.errorFrom(method, path, response, signal)
    }

    const document = await this.readJson(method, path, response, signal)
    const parsed = schema.safeParse(document)

    if (!parsed.success) {
      throw new BadResponseError(
        `the answer to ${method} ${path} does not match the API: ${describeIssue(parsed.error)}`,
      )
    }

    return { document: parsed.data, status: response.status }
  }

  private async send(
    method: string,
    path: string,
    init: {
      headers: Record<string, string>
      body?: string
      signal: AbortSignal
    },
  ): Promise<Response> {
    if (this.token !== undefined) {
      init.headers.authorization = `Bearer ${this.token}`
    }

    try {
      return await fetch(`${this.coordinator}${path}`, {
        method,
        headers: init.headers,
        body: init.body,
        signal: init.signal,
        redirect: 'error',
      })
    } catch (err) {
      throw this.transportError(method, path, err, init.signal)
    }
  }

  private transportError(method: string, path: string, err: unknown, signal: AbortSignal) {
    if (signal.aborted && (signal.reason as Error | undefined)?.name === 'TimeoutError') {
      return new CoordinatorUnreachableError(
        'COORDINATOR_TIMEOUT',
        `the coordinator at ${this.coordinator} did not answer ${method} ${path} within ` +
          `${this.requestTimeoutMs / 1000} s`,
        { cause: err },
      )
    }

    if ((err as Error | undefined)?.name === 'AbortError') {
      return err
    }

    const cause = (err as { cause?: { code?: string; message?: string } }).cause
    const reason = cause?.code ?? cause?.message ?? (err as Error).message
    return new CoordinatorUnreachableError(
      'COORDINATOR_UNREACHABLE',
      `cannot reach the coordinator at ${this.coordinator} (${reason}); ` +
        'is it running? (--coordinator URL or PRESSMESH_COORDINATOR)',
      { cause: err },
    )
  }

  private async errorFrom(
    method: string,
    path: string,
    response: Response,
    signal: AbortSignal = AbortSignal.timeout(this.requestTimeoutMs),
  ): Promise<Error> {
    let document: unknown
    try {
      document = await this.readJson(method, path, response, signal)
    } catch (err) {
      if (err instanceof CoordinatorUnreachableError) {
        return err
      }
    }

    const parsed = errorBodySchema.safeParse(document)
    if (parsed.success) {
      return new ApiError(response.status, parsed.data.error.code, parsed.data.error.message)
    }

    return new ApiError(
      response.status,
      `HTTP_${response.status}`,
      `the coordinator answered ${method} ${path} with ${response.status} ${response.statusText}`,
    )
  }

  private async readJson(method: string, path: string, response: Response, signal: AbortSignal) {
    const bytes = await this.readBody(method, path, response, signal)

    try {
      return JSON.parse(bytes.toString('utf8'))
    } catch (err) {
      throw new BadResponseError(`the answer to ${method} ${path} is not JSON`, { cause: err })
    }
  }

  private async readBody(
    method: string,
    path: string,
    response: Response,
    signal: AbortSignal,
  ): Promise<Buffer> {
    const tooLarge = () =>
      new BadResponseError(
        `the answer to ${method} ${path} is larger than ${this.maxResponseBytes} bytes`,
      )

    if (Number(response.headers.get('content-length') ?? 0) > this.maxResponseBytes) {
      await response.body?.cancel().catch(() => {})
      throw tooLarge()
    }

    const pieces: Uint8Array[] = []
    let length = 0

    const reader = response.body?.getReader()

    try {
      for (;;) {
        const { done, value } = (await reader?.read()) ?? { done: true, value: undefined }
        if (done) {
          break
        }

        length += value.length
        if (length > this.maxResponseBytes) {
          throw tooLarge()
        }

        pieces.push(value)
      }
    } catch (err) {
      await reader?.cancel().catch(() => {})

      if (err instanceof BadResponseError) {
        throw err
      }

      throw this.transportError(method, path, err, signal)
    }

    return Buffer.concat(pieces)
  }
}
