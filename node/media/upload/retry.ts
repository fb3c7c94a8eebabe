import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from '../../../protocol/logger.ts'

// Bounded retries with exponential backoff: attempt n waits base * 2^(n-1), capped, before it
// starts. Only errors the caller calls transient are retried.

export interface RetryInit {
  /** Attempts in all, the first included (default 5). */
  attempts?: number
  /** Wait before the second attempt (default 250 ms); doubles each time. */
  baseDelayMs?: number
  /** Longest wait between attempts (default 5 s). */
  maxDelayMs?: number
}

export const DEFAULT_RETRY = { attempts: 5, baseDelayMs: 250, maxDelayMs: 5000 } satisfies RetryInit

export interface RetryContext {
  retry: RetryInit
  transient: (err: unknown) => boolean
  log: Logger
  what: string
  signal?: AbortSignal
}

export async function withRetry<T>(
  job: (attempt: number) => Promise<T>,
  context: RetryContext,
): Promise<{ value: T; attempts: number }> {
  const { attempts, baseDelayMs, maxDelayMs } = { ...DEFAULT_RETRY, ...context.retry }

  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await job(attempt), attempts: attempt }
    } catch (err) {
      if (attempt >= attempts || !context.transient(err) || context.signal?.aborted) {
        throw Object.assign(err as object, { attempts: attempt })
      }

      const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1))
      context.log.warn({ attempt, delay, err }, `${context.what} failed, retrying`)
      await sleep(delay, undefined, { signal: context.signal })
    }
  }
}
