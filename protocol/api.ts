import { z } from 'zod'
import {
  JOB_KINDS,
  JOB_STATES,
  jobSubmitSchema,
  mediumSpecSchema,
  TASK_STATES,
  taskErrorSchema,
  taskOutputSchema,
} from './jobs.ts'

// The coordinator's HTTP API (`/api/v1`): the bodies it accepts and the documents it answers
// with. The coordinator validates with these, the command line and the dashboard read with them,
// and the OpenAPI document is generated from them.

export const ROLES = ['admin', 'release-engineer', 'operator', 'viewer'] as const
export type Role = (typeof ROLES)[number]

export const errorBodySchema = z.strictObject({
  error: z.strictObject({ code: z.string(), message: z.string() }),
})

export const progressSchema = z.object({
  phase: z.string(),
  done: z.number(),
  total: z.number(),
})

export const taskViewSchema = z.object({
  id: z.string(),
  job: z.string(),
  kind: z.enum(['fetch', 'pack', 'noop']),
  state: z.enum(TASK_STATES),
  attempt: z.number().int(),
  maxAttempts: z.number().int(),
  /** Peer id of the node that holds or held it. */
  node: z.string().optional(),
  /** preheat: the node this task must run on. */
  pinnedTo: z.string().optional(),
  medium: mediumSpecSchema.optional(),
  progress: progressSchema.optional(),
  output: taskOutputSchema.optional(),
  error: taskErrorSchema.optional(),
  /** A re-queued task waits until then (ms since the epoch). */
  notBefore: z.number().optional(),
  createdAt: z.number(),
  updatedAt: z.number(),
})
export type TaskView = z.infer<typeof taskViewSchema>

export const jobViewSchema = z.object({
  id: z.string(),
  kind: z.enum(JOB_KINDS),
  product: z.string(),
  version: z.string(),
  master: z.string(),
  manifest: z.string().optional(),
  media: z.array(mediumSpecSchema),
  priority: z.number().int(),
  state: z.enum(JOB_STATES),
  idempotencyKey: z.string().optional(),
  /** Name of the token that submitted it. */
  submittedBy: z.string(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  /** Counts of the job's tasks by state. */
  tasks: z.record(z.string(), z.number()),
  createdAt: z.number(),
  updatedAt: z.number(),
  finishedAt: z.number().optional(),
})
export type JobView = z.infer<typeof jobViewSchema>

export const jobEventSchema = z.object({
  seq: z.number().int(),
  at: z.number(),
  job: z.string(),
  task: z.string().optional(),
  node: z.string().optional(),
  state: z.string(),
  message: z.string(),
})
export type JobEvent = z.infer<typeof jobEventSchema>

export const jobDetailSchema = z.object({
  job: jobViewSchema,
  tasks: z.array(taskViewSchema),
  events: z.array(jobEventSchema),
})
export type JobDetail = z.infer<typeof jobDetailSchema>

export const jobListSchema = z.object({
  jobs: z.array(jobViewSchema),
  /** Pass as `cursor` for the next page; absent on the last page. */
  next: z.string().optional(),
})

export const jobListQuerySchema = z.strictObject({
  state: z.enum(JOB_STATES).optional(),
  product: z.string().max(64).optional(),
  kind: z.enum(JOB_KINDS).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z
    .string()
    .max(64)
    .regex(/^[0-9a-z-]+$/)
    .optional(),
})

export const nodeViewSchema = z.object({
  peer: z.string(),
  roles: z.array(z.string()),
  site: z.string(),
  slots: z.number().int(),
  load: z.number(),
  freeDiskBytes: z.number(),
  version: z.string(),
  http: z.string().optional(),
  addrs: z.array(z.string()),
  connected: z.boolean(),
  /** Seen on the presence topic recently. */
  alive: z.boolean(),
  draining: z.boolean(),
  lastSeen: z.number(),
  /** Tasks the coordinator has given it that are not finished. */
  running: z.number().int(),
})
export type NodeView = z.infer<typeof nodeViewSchema>

export const nodeListSchema = z.object({ nodes: z.array(nodeViewSchema) })

export const meshInfoSchema = z.object({
  peerId: z.string(),
  /** Multiaddrs with /p2p/<peer id>, for a node's --bootstrap. */
  addresses: z.array(z.string()),
})

export const drainBodySchema = z.strictObject({ drain: z.boolean() })

export const tokenCreateSchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]*$/),
  role: z.enum(ROLES),
})

export const tokenViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  createdAt: z.number(),
  revokedAt: z.number().optional(),
})
export type TokenView = z.infer<typeof tokenViewSchema>

/** Answer to a token creation: the only time the secret is shown. */
export const tokenCreatedSchema = tokenViewSchema.extend({ token: z.string() })

export const tokenListSchema = z.object({ tokens: z.array(tokenViewSchema) })

export { jobSubmitSchema }

/** Names of the server-sent events at /api/v1/events; each `data` is one JSON document. */
export const SSE_EVENTS = {
  /** data: JobView */
  job: 'job',
  /** data: TaskView */
  task: 'task',
  /** data: NodeView */
  node: 'node',
} as const
