import type { JobEvent, JobView, TaskView } from '../protocol/api.ts'
import type {
  JobKind,
  JobState,
  JobSubmit,
  MediumSpec,
  TaskError,
  TaskOutput,
  TaskState,
} from '../protocol/jobs.ts'

// What the coordinator keeps in LevelDB, one sublevel per entity. Records are plain JSON; the
// views the API answers with are derived from them.

export interface JobRecord {
  id: string
  kind: JobKind
  product: string
  version: string
  master: string
  manifest?: string
  media: MediumSpec[]
  preheat?: JobSubmit['preheat']
  priority: number
  state: JobState
  idempotencyKey?: string
  submittedBy: string
  error?: { code: string; message: string }
  taskIds: string[]
  /** Events recorded so far; the next one gets this number. */
  eventSeq: number
  createdAt: number
  updatedAt: number
  finishedAt?: number
}

export interface TaskRecord {
  id: string
  job: string
  kind: 'fetch' | 'pack' | 'noop'
  state: TaskState
  attempt: number
  maxAttempts: number
  /** Task ids that must succeed before this one is queued. */
  after: string[]
  node?: string
  pinnedTo?: string
  medium?: MediumSpec
  output?: TaskOutput
  error?: TaskError
  /** Not offered before this time (backoff after a failed attempt). */
  notBefore?: number
  /** When it entered the queue, for ageing. */
  queuedAt?: number
  /** The lease of an assigned or running task ends then unless renewed. */
  leaseUntil?: number
  createdAt: number
  updatedAt: number
}

export interface TokenRecord {
  id: string
  name: string
  role: 'admin' | 'release-engineer' | 'operator' | 'viewer'
  /** SHA-256 of the secret, hex. */
  hash: string
  createdAt: number
  revokedAt?: number
}

export interface NodeRecord {
  peer: string
  draining: boolean
  addrs: string[]
  lastSeen: number
}

export interface Progress {
  phase: string
  done: number
  total: number
}

export function jobView(job: JobRecord, tasks: TaskRecord[]): JobView {
  const counts: Record<string, number> = {}
  for (const task of tasks) {
    counts[task.state] = (counts[task.state] ?? 0) + 1
  }

  return {
    id: job.id,
    kind: job.kind,
    product: job.product,
    version: job.version,
    master: job.master,
    manifest: job.manifest,
    media: job.media,
    priority: job.priority,
    state: job.state,
    idempotencyKey: job.idempotencyKey,
    submittedBy: job.submittedBy,
    error: job.error,
    tasks: counts,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    finishedAt: job.finishedAt,
  }
}

export function taskView(task: TaskRecord, progress?: Progress): TaskView {
  return {
    id: task.id,
    job: task.job,
    kind: task.kind,
    state: task.state,
    attempt: task.attempt,
    maxAttempts: task.maxAttempts,
    node: task.node,
    pinnedTo: task.pinnedTo,
    medium: task.medium,
    progress,
    output: task.output,
    error: task.error,
    notBefore: task.notBefore,
    createdAt: task.createdAt,
    updatedAt: task.updatedAt,
  }
}

export type { JobEvent }
