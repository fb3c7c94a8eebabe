import {
  IntegrityError,
  InvalidInputError,
  NotFoundError,
  PressmeshError,
} from '../protocol/errors.ts'
import { ApiError, CoordinatorUnreachableError } from './client/errors.ts'

// The one place where errors become process exit codes. Scripts can tell bad input from a
// broken download from everything else.
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_BAD_INPUT = 2
/** The coordinator refused the token (401) or its role (403). */
export const EXIT_AUTH = 3
/** A watched job failed or was cancelled. */
export const EXIT_JOB_FAILED = 4
export const EXIT_INTEGRITY = 5
/** The coordinator could not be reached or did not answer in time. */
export const EXIT_UNREACHABLE = 6

export class UsageError extends InvalidInputError {
  constructor(message: string) {
    super('CLI_USAGE', message)
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof ApiError) {
    return exitCodeForStatus(err.status)
  }

  if (err instanceof CoordinatorUnreachableError) {
    return EXIT_UNREACHABLE
  }

  if (err instanceof InvalidInputError || err instanceof NotFoundError || isArgsError(err)) {
    return EXIT_BAD_INPUT
  }

  if (err instanceof IntegrityError) {
    return EXIT_INTEGRITY
  }

  return EXIT_FAILURE
}

/** The coordinator's refusals: the token's fault, the request's fault, or its own. */
function exitCodeForStatus(status: number): number {
  if (status === 401 || status === 403) {
    return EXIT_AUTH
  }

  return status >= 400 && status < 500 ? EXIT_BAD_INPUT : EXIT_FAILURE
}

/** node:util parseArgs throws plain TypeErrors coded ERR_PARSE_ARGS_* for bad options. */
function isArgsError(err: unknown): boolean {
  return String((err as { code?: unknown } | undefined)?.code).startsWith('ERR_PARSE_ARGS')
}

/** One line for a person: the message, and the code for scripts and bug reports. */
export function describeError(err: unknown): string {
  if (err instanceof PressmeshError) {
    return `pressmesh: ${err.message} [${err.code}]`
  }

  return `pressmesh: ${err instanceof Error ? err.message : String(err)}`
}
