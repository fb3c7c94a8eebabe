import { PressmeshError } from '../../protocol/errors.ts'

// Errors of the coordinator client. The exit codes they map to are decided in cli/exit-codes.ts.

/** The coordinator answered with an error document (`{ error: { code, message } }`). */
export class ApiError extends PressmeshError {
  readonly status: number

  constructor(status: number, code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'ApiError'
    this.status = status
  }
}

/** The coordinator could not be reached, or did not answer in time. */
export class CoordinatorUnreachableError extends PressmeshError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'CoordinatorUnreachableError'
  }
}

/** An answer that is not what the API promises: not JSON, too large, or off the schema. */
export class BadResponseError extends PressmeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('API_BAD_RESPONSE', message, options)
    this.name = 'BadResponseError'
  }
}
