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
  /** Tasks are `<job id>-1` … `<job id>-<taskCount>`. */
  taskCount: number
  /** Tasks by state, kept with every change, so views need not read the tasks. */
  counts: Partial<Record<TaskState, number>>
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

export function jobView(job: JobRecord): JobView {
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
    tasks: { ...job.counts },
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    finishedAt: job.finishedAt,
  }
}

export function taskIdsOf(job: JobRecord): string[] {
  return Array.from({ length: job.taskCount }, (_, i) => `${job.id}-${i + 1}`)
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
