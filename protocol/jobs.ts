import { z } from 'zod'
import { InvalidInputError } from './errors.ts'

// Jobs, tasks, and the messages that carry tasks between the coordinator and the nodes. This is
// the contract both sides import; the coordinator keeps the records, the nodes do the work.
//
// A job's state machine:
//
//   queued ──► running ──► succeeded
//     │           │  └───► failed      (a task used up its attempts, or could not start)
//     └───────────┴──────► cancelled   (asked for by a person; running tasks are stopped)
//
// A task's state machine:
//
//   waiting ──► queued ──► assigned ──► running ──► succeeded
//   (needs an     ▲  │        │            │
//    earlier      │  │        └────────────┴──► (lease expired, node refused or failed a
//    task)        │  │                           retryable step) back to queued after a backoff,
//                 │  │                           or failed once the attempts are used up
//                 │  └──► cancelled (job cancelled; reaches the node if it holds the task)
//                 └── re-queued
//
// `assigned` means a node accepted the offer and holds a lease; `running` means it reported
// progress. A lease is renewed by the node's heartbeats on the events topic; one that runs out
// puts the task back in the queue. Results carry the attempt number, so a late result of an
// attempt that was already given up on is ignored: a task succeeds once.

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const
export type JobState = (typeof JOB_STATES)[number]

export const TASK_STATES = [
  'waiting',
  'queued',
  'assigned',
  'running',
  'succeeded',
  'failed',
  'cancelled',
] as const
export type TaskState = (typeof TASK_STATES)[number]

export const FINAL_JOB_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled']
export const FINAL_TASK_STATES: readonly TaskState[] = ['succeeded', 'failed', 'cancelled']

export const JOB_KINDS = ['publish', 'preheat', 'noop'] as const
export type JobKind = (typeof JOB_KINDS)[number]

export const MEDIUM_FORMATS = ['tar', 'tar.gz', 'iso', 'img'] as const
export const DISC_SIZES = ['cd700', 'dvd5', 'dvd9', 'bd25'] as const

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'a 64-character lowercase hex id')
const name = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'letters, digits and . _ + - (not first)')
const peerIdText = z
  .string()
  .min(16)
  .max(128)
  .regex(/^[1-9A-HJ-NP-Za-km-z]+$/, 'a peer id')

/** Where a master lives: an http(s) URL of a file or folder on a storage server, or a manifest. */
export const masterSchema = z
  .string()
  .min(1)
  .max(4096)
  .refine(
    (text) => /^[0-9a-f]{64}$/.test(text) || /^(https?|file):\/\/[^\s]+$/.test(text),
    'an http(s):// or file:// URL of the master, or its 64-character manifest id',
  )

export const mediumSpecSchema = z.strictObject({
  format: z.enum(MEDIUM_FORMATS),
  /** iso only: split into a disc set of this size. */
  disc: z.enum(DISC_SIZES).optional(),
  /** img only: put the file system behind an MBR partition table. */
  mbr: z.boolean().optional(),
})
export type MediumSpec = z.infer<typeof mediumSpecSchema>

/** Which nodes a preheat job spreads the master to. */
export const preheatTargetSchema = z.strictObject({
  /** Named nodes by peer id. */
  nodes: z.array(peerIdText).min(1).max(256).optional(),
  /** Every production node of these sites. */
  sites: z.array(name).min(1).max(64).optional(),
  /** Every production node seen on the mesh. */
  all: z.literal(true).optional(),
  /** One production node per site (the least loaded), so that every site holds a copy. */
  eachSite: z.literal(true).optional(),
})

export const PRIORITY_MIN = 0
export const PRIORITY_MAX = 9
export const PRIORITY_DEFAULT = 5

/** The body of `POST /api/v1/jobs`. */
export const jobSubmitSchema = z
  .strictObject({
    /** publish makes media; preheat spreads a master to nodes; noop checks dispatch. */
    kind: z.enum(JOB_KINDS).default('publish'),
    product: name,
    version: name,
    master: masterSchema,
    media: z.array(mediumSpecSchema).min(1).max(8).optional(),
    preheat: preheatTargetSchema.optional(),
    /** Higher runs sooner; waiting jobs gain one step per ageing period. */
    priority: z.number().int().min(PRIORITY_MIN).max(PRIORITY_MAX).default(PRIORITY_DEFAULT),
    /** The same key twice returns the first job. */
    idempotencyKey: z.string().min(1).max(128).optional(),
    /** noop: how many tasks. */
    count: z.number().int().min(1).max(1000).optional(),
  })
  .superRefine((job, ctx) => {
    if (job.kind === 'publish' && (job.media === undefined || job.media.length === 0)) {
      ctx.addIssue({ code: 'custom', path: ['media'], message: 'a publish job names its media' })
    }
    if (job.kind === 'publish' && job.preheat !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['preheat'], message: 'only for preheat jobs' })
    }
    if (job.kind !== 'noop' && job.count !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['count'], message: 'only for noop jobs' })
    }
    if (job.kind !== 'publish' && job.media !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['media'], message: 'a preheat job makes no media' })
    }
    const target = job.preheat
    if (job.kind === 'preheat') {
      const chosen = [target?.nodes, target?.sites, target?.all, target?.eachSite].filter(
        (v) => v !== undefined,
      )
      if (chosen.length !== 1) {
        ctx.addIssue({
          code: 'custom',
          path: ['preheat'],
          message: 'a preheat job names exactly one of nodes, sites, all or eachSite',
        })
      }
    }
    for (const [i, medium] of (job.media ?? []).entries()) {
      if (medium.disc !== undefined && medium.format !== 'iso') {
        ctx.addIssue({ code: 'custom', path: ['media', i, 'disc'], message: 'iso only' })
      }
      if (medium.mbr !== undefined && medium.format !== 'img') {
        ctx.addIssue({ code: 'custom', path: ['media', i, 'mbr'], message: 'img only' })
      }
    }
  })
export type JobSubmit = z.infer<typeof jobSubmitSchema>
export type JobSubmitInput = z.input<typeof jobSubmitSchema>

/** Where a node writes media: a folder on the media file server, or an HTTP PUT/WebDAV URL. */
export const mediaTargetSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('folder'), dir: z.string().min(1).max(4096) }),
  z.strictObject({ type: z.literal('dav'), url: z.string().url().max(4096) }),
])
export type MediaTargetSpec = z.infer<typeof mediaTargetSchema>

/** A task as the coordinator hands it to a node. */
export const taskSpecSchema = z.strictObject({
  id: z.string().min(1).max(64),
  job: z.string().min(1).max(64),
  attempt: z.number().int().min(1).max(1000),
  kind: z.enum(['fetch', 'pack', 'noop']),
  master: masterSchema,
  /** Set once known (from an earlier task's result, or because the master is a manifest id). */
  manifest: hex64.optional(),
  /** pack: the medium and where it goes. */
  medium: mediumSpecSchema.optional(),
  /** pack: output file name without extension, e.g. `product-1.0`. */
  name: name.optional(),
  /** pack: volume label. */
  volumeId: z.string().min(1).max(64).optional(),
  target: mediaTargetSchema.optional(),
  /** How long the lease lasts without a heartbeat. */
  leaseMs: z.number().int().min(1_000).max(600_000),
})
export type TaskSpec = z.infer<typeof taskSpecSchema>

export const publishedFileSchema = z.strictObject({
  name: z.string().min(1).max(255),
  size: z.number().int().min(0),
  sha256: hex64,
  blake3: hex64,
})

export const taskOutputSchema = z.strictObject({
  manifest: hex64.optional(),
  /** Bytes the node took from the storage server and from peers for this task. */
  fromOrigin: z.number().int().min(0).optional(),
  fromPeers: z.number().int().min(0).optional(),
  files: z.array(publishedFileSchema).max(1024).optional(),
  /** Where the medium landed (folder path or URL). */
  location: z.string().max(4096).optional(),
  signedBy: z.string().max(128).optional(),
})
export type TaskOutput = z.infer<typeof taskOutputSchema>

export const taskErrorSchema = z.strictObject({
  code: z.string().min(1).max(64),
  message: z.string().max(2048),
  /** False for errors that another attempt cannot fix (bad master, unknown format). */
  retryable: z.boolean(),
})
export type TaskError = z.infer<typeof taskErrorSchema>

// Frames of /pressmesh/dispatch/1: length-prefixed JSON, one request and one answer per stream.
// The coordinator opens streams to offer and cancel tasks; a node opens one to report a result.

export const MAX_DISPATCH_FRAME_BYTES = 256 * 1024
/** Tasks one `offers` frame carries, and results one `results` frame carries. */
export const MAX_DISPATCH_BATCH = 64
/** A single result frame must fit in this, so that a batch of them stays within the frame. */
export const MAX_RESULT_BYTES = 16 * 1024
/** How long either side waits for the other's answer on a dispatch stream. */
export const DISPATCH_ANSWER_TIMEOUT_MS = 10_000

const resultFields = {
  task: z.string().min(1).max(64),
  attempt: z.number().int().min(1),
  outcome: z.enum(['succeeded', 'failed', 'cancelled']),
  output: taskOutputSchema.optional(),
  error: taskErrorSchema.optional(),
}

const singleAnswerSchema = z.discriminatedUnion('type', [
  z.strictObject({ v: z.literal(1), type: z.literal('accept') }),
  z.strictObject({
    v: z.literal(1),
    type: z.literal('refuse'),
    code: z.enum(['NO_SLOTS', 'DRAINING', 'UNSUPPORTED', 'BAD_TASK', 'NOT_RUNNING']),
    message: z.string().max(1024),
  }),
])

// Under load the coordinator offers a node several tasks in one `offers` frame (answered by one
// `answers` frame, in the same order), and a node reports the results ready at one moment in
// one `results` frame (acknowledged by one `ack`): a stream and its handshake per batch, not
// per task.
export const dispatchRequestSchema = z.discriminatedUnion('type', [
  z.strictObject({ v: z.literal(1), type: z.literal('offer'), task: taskSpecSchema }),
  z.strictObject({
    v: z.literal(1),
    type: z.literal('offers'),
    tasks: z.array(taskSpecSchema).min(1).max(MAX_DISPATCH_BATCH),
  }),
  z.strictObject({
    v: z.literal(1),
    type: z.literal('results'),
    results: z.array(z.strictObject(resultFields)).min(1).max(MAX_DISPATCH_BATCH),
  }),
  z.strictObject({
    v: z.literal(1),
    type: z.literal('cancel'),
    task: z.string().min(1).max(64),
    attempt: z.number().int().min(1),
  }),
  z.strictObject({
    v: z.literal(1),
    type: z.literal('result'),
    task: z.string().min(1).max(64),
    attempt: z.number().int().min(1),
    outcome: z.enum(['succeeded', 'failed', 'cancelled']),
    output: taskOutputSchema.optional(),
    error: taskErrorSchema.optional(),
  }),
])
export type DispatchRequest = z.infer<typeof dispatchRequestSchema>

export const dispatchAnswerSchema = z.discriminatedUnion('type', [
  ...singleAnswerSchema.options,
  z.strictObject({ v: z.literal(1), type: z.literal('ack') }),
  z.strictObject({
    v: z.literal(1),
    type: z.literal('answers'),
    answers: z.array(singleAnswerSchema).max(MAX_DISPATCH_BATCH),
  }),
])
export type DispatchAnswer = z.infer<typeof dispatchAnswerSchema>
export type OfferAnswer = z.infer<typeof singleAnswerSchema>

// The events topic: each node's heartbeat lists the tasks it runs with their progress. The
// coordinator renews leases from it and re-attaches tasks after its own restart.

export const HEARTBEAT_MS = 1_000
export const DEFAULT_LEASE_MS = 10_000

export const taskProgressSchema = z.strictObject({
  task: z.string().min(1).max(64),
  attempt: z.number().int().min(1),
  /** fetching, writing, uploading, … */
  phase: z.string().min(1).max(32),
  done: z.number().min(0),
  total: z.number().min(0),
})
export type TaskProgress = z.infer<typeof taskProgressSchema>

export const heartbeatSchema = z.strictObject({
  v: z.literal(1),
  type: z.literal('tasks'),
  running: z.array(taskProgressSchema).max(256),
})
export type Heartbeat = z.infer<typeof heartbeatSchema>

/** Parses a JSON frame or gossip message against a schema; errors name the field at fault. */
export function decodeJson<T>(schema: z.ZodType<T>, bytes: Uint8Array, what: string): T {
  let document: unknown
  try {
    document = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString())
  } catch (err) {
    throw new InvalidInputError('FRAME_NOT_JSON', `${what} is not JSON`, { cause: err })
  }

  const parsed = schema.safeParse(document)
  if (!parsed.success) {
    throw new InvalidInputError('FRAME_INVALID', `${what}: ${describeIssue(parsed.error)}`)
  }

  return parsed.data
}

export function encodeJson(message: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(message))
}

/** The first issue of a zod error as one line: `media.0.format: Invalid option …`. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0]
  return `${issue.path.join('.') || '(body)'}: ${issue.message}`
}
