// Every error that crosses a component boundary is a PressmeshError with a stable `code`.
// Callers and tests branch on the code, never on the message; the message is for a person and
// says what to do. The HTTP layer and the command line each map codes in one place.

export class PressmeshError extends Error {
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'PressmeshError'
    this.code = code
  }
}

/** A document (manifest, frame, request body) from outside failed validation. */
export class InvalidInputError extends PressmeshError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'InvalidInputError'
  }
}

/** Bytes did not hash to the id they were stored or sent under. */
export class IntegrityError extends PressmeshError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'IntegrityError'
  }
}

/** Something that was asked for does not exist (a chunk, a file, a manifest). */
export class NotFoundError extends PressmeshError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'NotFoundError'
  }
}

export function isPressmeshError(err: unknown, code?: string): err is PressmeshError {
  return err instanceof PressmeshError && (code === undefined || err.code === code)
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
