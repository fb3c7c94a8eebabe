import { setTimeout as sleep } from 'node:timers/promises'
import type { z } from 'zod'
import {
  type JobView,
  jobViewSchema,
  nodeViewSchema,
  SSE_EVENTS,
  type TaskView,
  taskViewSchema,
} from '../../protocol/api.ts'
import { FINAL_JOB_STATES, describeIssue } from '../../protocol/jobs.ts'
import { errorMessage } from '../../protocol/errors.ts'
import { ApiError, BadResponseError, CoordinatorUnreachableError } from './errors.ts'
import type { CoordinatorClient } from './http-client.ts'
import {
  EVENTS_IDLE_TIMEOUT_MS,
  EventStreamError,
  readServerEvents,
  type ServerEvent,
} from './sse.ts'

// Follows one job over the coordinator's event stream until it reaches a final state. Each
// (re)connection opens the stream and then reads the job, so a final state reached while the
// watcher was away is seen from the read, and one reached after it from the stream. A dropped
// stream is reopened after a capped, doubling delay; a run of failed attempts gives up.

export const RECONNECT_INITIAL_MS = 250
export const RECONNECT_MAX_MS = 5_000
/** Consecutive attempts without an event before giving up (about half a minute). */
export const RECONNECT_MAX_ATTEMPTS = 8

export interface WatchView {
  job(job: JobView): void
  task(task: TaskView): void
  /** Any event of the stream, for --json. */
  event?(name: string, data: unknown): void
  reconnecting(attempt: number, delayMs: number, err: unknown): void
  close(): void
}

export interface WatchInit {
  client: CoordinatorClient
  job: string
  view: WatchView
  idleTimeoutMs?: number
  reconnectInitialMs?: number
  reconnectMaxMs?: number
  reconnectMaxAttempts?: number
  signal?: AbortSignal
}

/** Answers the job in its final state. */
export async function watchJob(init: WatchInit): Promise<JobView> {
  const maxAttempts = init.reconnectMaxAttempts ?? RECONNECT_MAX_ATTEMPTS
  const state: WatchState = { failures: 0, seen: new Map() }

  for (;;) {
    const controller = new AbortController()
    const stop = () => controller.abort(init.signal?.reason)
    init.signal?.addEventListener('abort', stop, { once: true })

    try {
      const final = await followOnce(init, state, controller.signal)
      if (final !== undefined) {
        return final
      }

      throw new EventStreamError('EVENTS_ENDED', 'the coordinator ended the event stream')
    } catch (err) {
      if (!isRetryable(err) || init.signal?.aborted) {
        throw err
      }

      state.failures++
      if (state.failures > maxAttempts) {
        throw new CoordinatorUnreachableError(
          'EVENTS_GAVE_UP',
          `lost the event stream of job ${init.job} and could not get it back after ` +
            `${maxAttempts} attempts: ${errorMessage(err)}`,
          { cause: err },
        )
      }

      const delay = Math.min(
        init.reconnectMaxMs ?? RECONNECT_MAX_MS,
        (init.reconnectInitialMs ?? RECONNECT_INITIAL_MS) * 2 ** (state.failures - 1),
      )
      init.view.reconnecting(state.failures, delay, err)
      await sleep(delay, undefined, { signal: init.signal })
    } finally {
      init.signal?.removeEventListener('abort', stop)
      controller.abort()
    }
  }
}

interface WatchState {
  failures: number
  lastEventId?: string
  /** Newest `updatedAt` shown per job and task: events older than the read are not shown. */
  seen: Map<string, number>
}

/** One connection: the job as it stands, then its events. Undefined when the stream ends. */
async function followOnce(
  init: WatchInit,
  state: WatchState,
  signal: AbortSignal,
): Promise<JobView | undefined> {
  const body = await init.client.openEvents(
    { job: init.job, lastEventId: state.lastEventId },
    signal,
  )
  const detail = await init.client.getJob(init.job, signal)
  init.view.job(detail.job)
  state.seen.set(detail.job.id, detail.job.updatedAt)

  for (const task of detail.tasks) {
    init.view.task(task)
    state.seen.set(task.id, task.updatedAt)
  }

  if (isFinal(detail.job)) {
    return detail.job
  }

  const events = readServerEvents(body, {
    idleTimeoutMs: init.idleTimeoutMs ?? EVENTS_IDLE_TIMEOUT_MS,
  })

  for await (const message of events) {
    state.lastEventId = message.id ?? state.lastEventId
    state.failures = 0
    const job = takeEvent(init, state, message)

    if (job !== undefined && isFinal(job)) {
      return job
    }
  }

  return undefined
}

/** Whether a document is not older than what was shown of it (events opened before the read). */
function fresh(state: WatchState, id: string, updatedAt: number): boolean {
  if (updatedAt < (state.seen.get(id) ?? 0)) {
    return false
  }
  state.seen.set(id, updatedAt)
  return true
}

function takeEvent(init: WatchInit, state: WatchState, message: ServerEvent): JobView | undefined {
  if (message.event === SSE_EVENTS.job) {
    const job = parseData(message, jobViewSchema)
    if (job.id !== init.job || !fresh(state, job.id, job.updatedAt)) {
      return undefined
    }

    init.view.event?.(message.event, job)
    init.view.job(job)
    return job
  }

  if (message.event === SSE_EVENTS.task) {
    const task = parseData(message, taskViewSchema)
    if (task.job !== init.job || !fresh(state, task.id, task.updatedAt)) {
      return undefined
    }

    init.view.event?.(message.event, task)
    init.view.task(task)
  } else if (message.event === SSE_EVENTS.node) {
    init.view.event?.(message.event, parseData(message, nodeViewSchema))
  }

  return undefined
}

function parseData<S extends z.ZodType>(message: ServerEvent, schema: S): z.output<S> {
  let document: unknown
  try {
    document = JSON.parse(message.data)
  } catch (err) {
    throw new BadResponseError(`a "${message.event}" event's data is not JSON`, { cause: err })
  }

  const parsed = schema.safeParse(document)
  if (!parsed.success) {
    throw new BadResponseError(
      `a "${message.event}" event does not match the API: ${describeIssue(parsed.error)}`,
    )
  }

  return parsed.data
}

export function isFinal(job: JobView): boolean {
  return FINAL_JOB_STATES.includes(job.state)
}

/** Transport trouble and server errors are worth another attempt; refusals and bad data not. */
function isRetryable(err: unknown): boolean {
  if (err instanceof CoordinatorUnreachableError) {
    return true
  }

  if (err instanceof ApiError) {
    return err.status >= 500
  }

  return (
    err instanceof EventStreamError &&
    (err.code === 'EVENTS_IDLE' || err.code === 'EVENTS_DROPPED' || err.code === 'EVENTS_ENDED')
  )
}
