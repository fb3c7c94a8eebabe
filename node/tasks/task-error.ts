import {
  errorMessage,
  InvalidInputError,
  isPressmeshError,
  NotFoundError,
} from '../../protocol/errors.ts'
import type { TaskError } from '../../protocol/jobs.ts'

// How a failed task is told to the coordinator. Bad input and things that do not exist stay
// broken on another attempt; everything else (networks, disks, peers, the node stopping) may
// not, so the coordinator may try again.

const MAX_MESSAGE = 2048
const MAX_CODE = 64

export function taskError(err: unknown): TaskError {
  const code = isPressmeshError(err) ? err.code : 'TASK_FAILED'

  return {
    code: code.slice(0, MAX_CODE),
    message: errorMessage(err).slice(0, MAX_MESSAGE),
    retryable: !(err instanceof InvalidInputError || err instanceof NotFoundError),
  }
}
