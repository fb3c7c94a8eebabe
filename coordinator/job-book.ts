import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { JobDetail, JobView, TaskView } from '../protocol/api.ts'
import { NotFoundError, PressmeshError } from '../protocol/errors.ts'
import {
  FINAL_JOB_STATES,
  FINAL_TASK_STATES,
  type JobState,
  type JobSubmit,
  type TaskError,
  type TaskOutput,
  type TaskState,
} from '../protocol/jobs.ts'
import type { CoordinatorDb, Operation } from './db.ts'
import {
  type JobEvent,
  type JobRecord,
  jobView,
  type Progress,
  type TaskRecord,
  taskView,
} from './records.ts'

// The book of jobs and tasks: every state change of the state machines in protocol/jobs.ts
// happens here, in memory first and then on disk as one atomic batch (job, tasks and event
// together). Jobs that are not finished stay in memory with their tasks; finished ones are read
// back from LevelDB when asked for.

export const MAX_ATTEMPTS = 4
/** Backoff before attempt n+1: 1 s, 2 s, 4 s … capped. */
export const RETRY_BASE_MS = 1_000
export const RETRY_MAX_MS = 30_000
/** Events kept per job; beyond that only job state changes are recorded. */
export const MAX_EVENTS_PER_JOB = 500
/** Jobs whose records stay in memory for listing, newest first. */
export const RECENT_JOBS = 20_000
/** Details of finished jobs kept in memory. */
export const FINISHED_DETAILS_CACHED = 256
/** Jobs accepted but not finished; a submission beyond it is refused with 503. */
export const MAX_ACTIVE_JOBS = 100_000

export interface SubmitResult {
  job: JobView
  created: boolean
}

export interface JobBookEvents {
  job: [JobView]
  task: [TaskView]
  /** A task became ready to be offered. */
  ready: [TaskRecord]
  /** A task that a node holds must stop there (job cancelled or failed). */
  stop: [TaskRecord]
}

export interface PreheatPlan {
  /** Peer ids to spread the master to. */
  nodes: string[]
}

export class JobBook extends EventEmitter<JobBookEvents> {
  readonly jobs = new Map<string, JobRecord>()
  readonly tasks = new Map<string, TaskRecord>()
  readonly progress = new Map<string, Progress>()
  /** The tasks of each unfinished job, in order. */
  private readonly byJob = new Map<string, TaskRecord[]>()
  /** Events of each unfinished job (finished jobs' are read back from disk). */
  private readonly eventsByJob = new Map<string, JobEvent[]>()
  /** The newest jobs in id (creation) order; the API's lists are served from here. */
  private recent: JobRecord[] = []
  /** Whether older jobs than `recent` holds exist on disk. */
  private recentIsPartial = false
  /** Details of finished jobs, which never change again, newest use last. */
  private readonly finishedDetails = new Map<string, JobDetail>()
  /** Per node: the tasks it holds (assigned or running). */
  private readonly heldBy = new Map<string, Set<TaskRecord>>()
  private readonly keys = new Map<string, string>()
  private readonly reserving = new Map<string, Promise<SubmitResult>>()

  private constructor(private readonly db: CoordinatorDb) {
    super()
  }

  /** Loads every unfinished job. Tasks a node held get a fresh lease to re-attach in. */
  static async open(db: CoordinatorDb, leaseMs: number): Promise<JobBook> {
    const book = new JobBook(db)
    const now = Date.now()

    for await (const job of db.sub.jobs.values()) {
      if (job.idempotencyKey !== undefined) {
        book.keys.set(job.idempotencyKey, job.id)
      }
      book.remember(job)
      if (FINAL_JOB_STATES.includes(job.state)) {
        continue
      }

      const tasks: TaskRecord[] = []
      for await (const task of db.sub.tasks.values(taskRange(job.id))) {
        if (isHeld(task.state)) {
          // Its node may still be working: wait for a heartbeat for one more lease.
          task.leaseUntil = now + 2 * leaseMs
        }
        tasks.push(task)
      }
      book.adopt(job, tasks)
      const events: JobEvent[] = []
      for await (const event of db.sub.events.values(eventRange(job.id))) {
        events.push(event)
      }
      book.eventsByJob.set(job.id, events)
    }

    return book
  }

  /** Adds a job to the recent list, which stays in id order and within RECENT_JOBS. */
  private remember(job: JobRecord): void {
    let i = this.recent.length
    while (i > 0 && this.recent[i - 1].id > job.id) {
      i--
    }
    this.recent.splice(i, 0, job)
    if (this.recent.length > 2 * RECENT_JOBS) {
      this.recent = this.recent.slice(-RECENT_JOBS)
      this.recentIsPartial = true
    }
  }

  /** Takes an unfinished job and its tasks into memory. */
  private adopt(job: JobRecord, tasks: TaskRecord[]): void {
    job.counts = {}
    for (const task of tasks) {
      job.counts[task.state] = (job.counts[task.state] ?? 0) + 1
      this.tasks.set(task.id, task)
      if (isHeld(task.state) && task.node !== undefined) {
        this.holdIndex(task.node).add(task)
      }
    }
    this.jobs.set(job.id, job)
    this.byJob.set(job.id, tasks)
  }

  private holdIndex(node: string): Set<TaskRecord> {
    let held = this.heldBy.get(node)
    if (held === undefined) {
      held = new Set()
      this.heldBy.set(node, held)
    }
    return held
  }

  /** The one place a task changes state: keeps the job's counts and the held index right. */
  private setState(job: JobRecord, task: TaskRecord, state: TaskState): void {
    const before = task.state
    if (before === state) {
      return
    }
    const left = (job.counts[before] ?? 1) - 1
    if (left > 0) {
      job.counts[before] = left
    } else {
      delete job.counts[before]
    }
    job.counts[state] = (job.counts[state] ?? 0) + 1
    if (isHeld(before) && task.node !== undefined) {
      this.heldBy.get(task.node)?.delete(task)
    }
    task.state = state
    if (isHeld(state) && task.node !== undefined) {
      this.holdIndex(task.node).add(task)
    }
  }

  /** Tasks the node holds now. */
  heldOn(node: string): number {
    return this.heldBy.get(node)?.size ?? 0
  }

  activeCount(): number {
    return this.jobs.size
  }

  /** Stores a job and its tasks; an idempotency key seen before returns the first job. */
  async submit(spec: JobSubmit, submittedBy: string, plan?: PreheatPlan): Promise<SubmitResult> {
    const key = spec.idempotencyKey
    if (key !== undefined) {
      const existing = this.keys.get(key)
      if (existing !== undefined) {
        return { job: await this.view(existing), created: false }
      }
      // Concurrent submissions with one key: all wait for the first one's job.
      const inFlight = this.reserving.get(key)
      if (inFlight !== undefined) {
        return { job: (await inFlight).job, created: false }
      }
    }

    if (this.jobs.size >= MAX_ACTIVE_JOBS) {
      throw new PressmeshError(
        'TOO_MANY_JOBS',
        `${this.jobs.size} jobs are unfinished; wait for some to end or cancel some`,
      )
    }

    const created = this.create(spec, submittedBy, plan)
    if (key !== undefined) {
      this.reserving.set(key, created)
    }

    try {
      return await created
    } finally {
      if (key !== undefined) {
        this.reserving.delete(key)
      }
    }
  }

  private async create(spec: JobSubmit, submittedBy: string, plan?: PreheatPlan) {
    const now = Date.now()
    const id = newJobId(now)
    const job: JobRecord = {
      id,
      kind: spec.kind,
      product: spec.product,
      version: spec.version,
      master: spec.master,
      manifest: /^[0-9a-f]{64}$/.test(spec.master) ? spec.master : undefined,
      media: spec.media ?? [],
      preheat: spec.preheat,
      priority: spec.priority,
      state: 'queued',
      idempotencyKey: spec.idempotencyKey,
      submittedBy,
      taskCount: 0,
      counts: {},
      eventSeq: 0,
      createdAt: now,
      updatedAt: now,
    }

    const tasks: TaskRecord[] = []
    const task = (fields: Partial<TaskRecord> & Pick<TaskRecord, 'kind'>): TaskRecord => {
      const record: TaskRecord = {
        id: `${id}-${tasks.length + 1}`,
        job: id,
        state: 'queued',
        attempt: 1,
        maxAttempts: MAX_ATTEMPTS,
        after: [],
        queuedAt: now,
        createdAt: now,
        updatedAt: now,
        ...fields,
      }
      if (record.after.length > 0) {
        record.state = 'waiting'
        record.queuedAt = undefined
      }
      tasks.push(record)
      return record
    }

    if (spec.kind === 'preheat') {
      for (const node of plan?.nodes ?? []) {
        task({ kind: 'fetch', pinnedTo: node })
      }
    } else if (spec.kind === 'noop') {
      for (let i = 0; i < (spec.count ?? 1); i++) {
        task({ kind: 'noop' })
      }
    } else {
      const fetch = task({ kind: 'fetch' })
      for (const medium of job.media) {
        task({ kind: 'pack', medium, after: [fetch.id] })
      }
    }

    job.taskCount = tasks.length
    for (const t of tasks) {
      job.counts[t.state] = (job.counts[t.state] ?? 0) + 1
    }
    this.eventsByJob.set(id, [])
    const operations: Operation[] = [
      ...tasks.map((t) => put('tasks', t.id, t)),
      ...this.event(job, { state: 'queued', message: describeJob(job, tasks.length) }),
      put('jobs', id, job),
    ]
    if (job.idempotencyKey !== undefined) {
      operations.push(put('idempotency', job.idempotencyKey, id))
    }

    await this.db.commit(operations)

    this.adopt(job, tasks)
    this.remember(job)
    if (job.idempotencyKey !== undefined) {
      this.keys.set(job.idempotencyKey, id)
    }

    const view = this.jobViewOf(job)
    this.emit('job', view)
    for (const t of tasks) {
      if (t.state === 'queued') {
        this.emit('ready', t)
      }
    }

    return { job: view, created: true }
  }

  /** Ready tasks: queued, not backing off. */
  *queued(now = Date.now()): Iterable<TaskRecord> {
    for (const task of this.tasks.values()) {
      if (task.state === 'queued' && (task.notBefore === undefined || task.notBefore <= now)) {
        yield task
      }
    }
  }

  jobOf(task: TaskRecord): JobRecord | undefined {
    return this.jobs.get(task.job)
  }

  /** Tasks that nodes hold (assigned or running). */
  *held(): Iterable<TaskRecord> {
    for (const tasks of this.heldBy.values()) {
      yield* tasks
    }
  }

  /** A node accepted the task: it holds a lease now. */
  async assign(task: TaskRecord, node: string, leaseMs: number): Promise<void> {
    const job = this.jobs.get(task.job)
    if (job === undefined || task.state !== 'queued') {
      return
    }

    const now = Date.now()
    task.node = node
    this.setState(job, task, 'assigned')
    task.leaseUntil = now + leaseMs
    task.notBefore = undefined
    task.updatedAt = now
    const operations = [put('tasks', task.id, task)]

    if (job.state === 'queued') {
      job.state = 'running'
      operations.push(...this.event(job, { state: 'running', message: 'first task dispatched' }))
    }
    operations.push(
      ...this.event(job, {
        state: 'assigned',
        task: task.id,
        node,
        message: `${taskLabel(task)} attempt ${task.attempt} given to ${short(node)}`,
      }),
    )
    job.updatedAt = now
    operations.push(put('jobs', job.id, job))

    await this.db.commit(operations)
    this.emit('task', this.taskViewOf(task))
    if (job.state === 'running' && operations.length > 3) {
      this.emit('job', this.jobViewOf(job))
    }
  }

  /** A heartbeat from the node that holds the task: renew the lease, note the progress. */
  renew(task: TaskRecord, progress: Progress, leaseMs: number): void {
    const now = Date.now()
    task.leaseUntil = now + leaseMs
    this.progress.set(task.id, progress)

    const job = this.jobs.get(task.job)
    if (task.state === 'assigned' && job !== undefined) {
      this.setState(job, task, 'running')
      task.updatedAt = now
      const operations = [put('tasks', task.id, task)]
      operations.push(
        ...this.event(job, {
          state: 'running',
          task: task.id,
          node: task.node,
          message: `${taskLabel(task)} running`,
        }),
        put('jobs', job.id, job),
      )
      void this.db.commit(operations).catch(() => undefined)
    }

    this.emit('task', this.taskViewOf(task))
  }

  /** The node's result for one attempt. Results for other attempts are ignored. */
  async finish(
    task: TaskRecord,
    outcome: 'succeeded' | 'failed' | 'cancelled',
    detail: { output?: TaskOutput; error?: TaskError },
  ): Promise<void> {
    const job = this.jobs.get(task.job)
    if (job === undefined || (task.state !== 'assigned' && task.state !== 'running')) {
      return
    }

    this.progress.delete(task.id)
    if (outcome === 'succeeded') {
      await this.succeed(job, task, detail.output ?? {})
    } else if (outcome === 'failed' && detail.error?.retryable === false) {
      await this.failTask(job, task, detail.error)
    } else {
      await this.retry(
        job,
        task,
        detail.error ?? {
          code: 'TASK_STOPPED',
          message: `the node stopped the task (${outcome})`,
          retryable: true,
        },
      )
    }
  }

  /** The lease ran out: the node died or was cut off. */
  async expire(task: TaskRecord): Promise<void> {
    const job = this.jobs.get(task.job)
    if (job === undefined) {
      return
    }

    this.progress.delete(task.id)
    this.emit('stop', { ...task })
    await this.retry(job, task, {
      code: 'LEASE_EXPIRED',
      message: `no heartbeat from ${short(task.node ?? '?')} within the lease`,
      retryable: true,
    })
  }

  /** A node refused the offer or could not be reached: back to the queue, attempt unchanged. */
  unoffered(task: TaskRecord, delayMs: number): void {
    task.notBefore = Date.now() + delayMs
  }

  /** A task that cannot be placed at all (a preheat node that left the mesh). */
  async failUnplaceable(task: TaskRecord, error: TaskError): Promise<void> {
    const job = this.jobs.get(task.job)
    if (job !== undefined && task.state === 'queued') {
      await this.failTask(job, task, error)
    }
  }

  async cancel(id: string, by: string): Promise<JobView> {
    const job = this.jobs.get(id)
    if (job === undefined) {
      const stored = await this.db.sub.jobs.get(id)
      if (stored === undefined) {
        throw new NotFoundError('JOB_NOT_FOUND', `no job ${id}`)
      }
      // Finished already: cancelling changes nothing.
      return jobView(stored)
    }

    await this.end(job, 'cancelled', { code: 'CANCELLED', message: `cancelled by ${by}` })
    return jobView(job)
  }

  private async succeed(job: JobRecord, task: TaskRecord, output: TaskOutput): Promise<void> {
    const now = Date.now()
    this.setState(job, task, 'succeeded')
    task.output = output
    task.leaseUntil = undefined
    task.updatedAt = now
    const operations: Operation[] = []
    const ready: TaskRecord[] = []

    if (output.manifest !== undefined && job.manifest === undefined) {
      job.manifest = output.manifest
    }

    for (const other of (job.counts.waiting ?? 0) > 0 ? this.tasksOf(job) : []) {
      if (other.state !== 'waiting') {
        continue
      }
      const blocked = other.after.some((id) => this.tasks.get(id)?.state !== 'succeeded')
      if (!blocked) {
        this.setState(job, other, 'queued')
        other.queuedAt = now
        other.updatedAt = now
        operations.push(put('tasks', other.id, other))
        ready.push(other)
      }
    }

    operations.push(
      put('tasks', task.id, task),
      ...this.event(job, {
        state: 'succeeded',
        task: task.id,
        node: task.node,
        message: `${taskLabel(task)} succeeded${output.location ? ` → ${output.location}` : ''}`,
      }),
    )

    const done = job.counts.succeeded === job.taskCount
    if (done) {
      operations.push(...this.closeJob(job, 'succeeded', undefined, now))
    }
    job.updatedAt = now
    operations.push(put('jobs', job.id, job))

    await this.db.commit(operations)
    this.emit('task', this.taskViewOf(task))
    for (const other of ready) {
      this.emit('task', this.taskViewOf(other))
      this.emit('ready', other)
    }
    this.emit('job', this.jobViewOf(job))
    if (done) {
      this.forget(job)
    }
  }

  private async retry(job: JobRecord, task: TaskRecord, error: TaskError): Promise<void> {
    if (task.attempt >= task.maxAttempts) {
      await this.failTask(job, task, {
        ...error,
        message: `${error.message} (after ${task.attempt} attempts)`,
      })
      return
    }

    const now = Date.now()
    const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (task.attempt - 1))
    const node = task.node
    this.setState(job, task, 'queued')
    task.attempt++
    task.error = error
    task.node = undefined
    task.leaseUntil = undefined
    task.notBefore = now + delay
    task.queuedAt = now
    task.updatedAt = now
    job.updatedAt = now

    await this.db.commit([
      put('tasks', task.id, task),
      ...this.event(job, {
        state: 'queued',
        task: task.id,
        node,
        message:
          `${taskLabel(task)} re-queued for attempt ${task.attempt} in ${delay} ms: ` +
          error.message,
      }),
      put('jobs', job.id, job),
    ])
    this.emit('task', this.taskViewOf(task))
    setTimeout(() => this.emit('ready', task), delay).unref()
  }

  private async failTask(job: JobRecord, task: TaskRecord, error: TaskError): Promise<void> {
    const now = Date.now()
    this.setState(job, task, 'failed')
    task.error = error
    task.leaseUntil = undefined
    task.updatedAt = now
    await this.db.commit([
      put('tasks', task.id, task),
      ...this.event(job, {
        state: 'failed',
        task: task.id,
        node: task.node,
        message: `${taskLabel(task)} failed: ${error.message} [${error.code}]`,
      }),
      put('jobs', job.id, job),
    ])
    this.emit('task', this.taskViewOf(task))
    await this.end(job, 'failed', {
      code: error.code,
      message: `${taskLabel(task)}: ${error.message}`,
    })
  }

  /** Ends a job that did not succeed; every unfinished task is cancelled, held ones stopped. */
  private async end(job: JobRecord, state: 'failed' | 'cancelled', error: JobRecord['error']) {
    const now = Date.now()
    const operations: Operation[] = []
    const stopped: TaskRecord[] = []

    for (const task of [...this.tasksOf(job)]) {
      if (FINAL_TASK_STATES.includes(task.state)) {
        continue
      }
      if (task.state === 'assigned' || task.state === 'running') {
        stopped.push({ ...task })
      }
      this.setState(job, task, 'cancelled')
      task.leaseUntil = undefined
      task.updatedAt = now
      this.progress.delete(task.id)
      operations.push(put('tasks', task.id, task))
    }

    operations.push(...this.closeJob(job, state, error, now), put('jobs', job.id, job))
    await this.db.commit(operations)

    for (const task of stopped) {
      this.emit('stop', task)
    }
    for (const task of this.tasksOf(job)) {
      this.emit('task', this.taskViewOf(task))
    }
    this.emit('job', this.jobViewOf(job))
    this.forget(job)
  }

  private closeJob(job: JobRecord, state: JobState, error: JobRecord['error'], now: number) {
    job.state = state
    job.error = error
    job.finishedAt = now
    job.updatedAt = now
    return this.event(job, {
      state,
      message: error === undefined ? `job ${state}` : `job ${state}: ${error.message}`,
      force: true,
    })
  }

  /** A finished job leaves memory; its records stay on disk. */
  private forget(job: JobRecord): void {
    this.jobs.delete(job.id)
    for (const task of this.byJob.get(job.id) ?? []) {
      this.tasks.delete(task.id)
      this.progress.delete(task.id)
      if (task.node !== undefined) {
        this.heldBy.get(task.node)?.delete(task)
      }
    }
    this.byJob.delete(job.id)
    this.eventsByJob.delete(job.id)
  }

  private event(
    job: JobRecord,
    fields: Omit<JobEvent, 'seq' | 'at' | 'job'> & { force?: boolean },
  ): Operation[] {
    if (job.eventSeq >= MAX_EVENTS_PER_JOB && !fields.force) {
      return []
    }

    const { force: _force, ...rest } = fields
    const event: JobEvent = { seq: job.eventSeq, at: Date.now(), job: job.id, ...rest }
    job.eventSeq++
    this.eventsByJob.get(job.id)?.push(event)
    return [put('events', `${job.id}/${String(event.seq).padStart(8, '0')}`, event)]
  }

  // Reading.

  tasksOf(job: JobRecord): TaskRecord[] {
    return this.byJob.get(job.id) ?? []
  }

  jobViewOf(job: JobRecord): JobView {
    return jobView(job)
  }

  taskViewOf(task: TaskRecord): TaskView {
    return taskView(task, this.progress.get(task.id))
  }

  private async storedTasks(job: JobRecord): Promise<TaskRecord[]> {
    const active = this.byJob.get(job.id)
    if (active !== undefined) {
      return active
    }
    const tasks: TaskRecord[] = []
    for await (const task of this.db.sub.tasks.values(taskRange(job.id))) {
      tasks.push(task)
    }
    // Keys sort as text: -10 before -2. Put them back in task order.
    return tasks.sort((a, b) => taskNumber(a.id) - taskNumber(b.id))
  }

  async view(id: string): Promise<JobView> {
    const job = this.jobs.get(id) ?? (await this.db.sub.jobs.get(id))
    if (job === undefined) {
      throw new NotFoundError('JOB_NOT_FOUND', `no job ${id}`)
    }
    return jobView(job)
  }

  async detail(id: string): Promise<JobDetail> {
    const active = this.jobs.get(id)
    if (active !== undefined) {
      return {
        job: jobView(active),
        tasks: this.tasksOf(active).map((t) => taskView(t, this.progress.get(t.id))),
        events: [...(this.eventsByJob.get(id) ?? [])],
      }
    }

    const cached = this.finishedDetails.get(id)
    if (cached !== undefined) {
      this.finishedDetails.delete(id)
      this.finishedDetails.set(id, cached)
      return cached
    }

    const job = await this.db.sub.jobs.get(id)
    if (job === undefined) {
      throw new NotFoundError('JOB_NOT_FOUND', `no job ${id}`)
    }
    const events: JobEvent[] = []
    for await (const event of this.db.sub.events.values(eventRange(id))) {
      events.push(event)
    }
    const detail = {
      job: jobView(job),
      tasks: (await this.storedTasks(job)).map((t) => taskView(t)),
      events,
    }

    if (FINAL_JOB_STATES.includes(job.state) && !this.jobs.has(id)) {
      this.finishedDetails.set(id, detail)
      if (this.finishedDetails.size > FINISHED_DETAILS_CACHED) {
        this.finishedDetails.delete(this.finishedDetails.keys().next().value!)
      }
    }
    return detail
  }

  /** Newest first; `cursor` is the last id of the previous page. */
  async list(filter: {
    state?: JobState
    product?: string
    kind?: string
    limit: number
    cursor?: string
  }): Promise<{ jobs: JobView[]; next?: string }> {
    const jobs: JobView[] = []
    const budget = 20 * filter.limit + 1000
    let scanned = 0
    const take = (job: JobRecord): 'full' | 'budget' | undefined => {
      scanned++
      const matches =
        (filter.state === undefined || job.state === filter.state) &&
        (filter.product === undefined || job.product === filter.product) &&
        (filter.kind === undefined || job.kind === filter.kind)
      if (matches) {
        jobs.push(jobView(job))
        if (jobs.length === filter.limit) return 'full'
      }
      // A filter that matches little must not scan the whole history in one request.
      return scanned >= budget ? 'budget' : undefined
    }

    // From memory first: the newest jobs, before the cursor.
    let i = this.recent.length
    if (filter.cursor !== undefined) {
      let low = 0
      let high = this.recent.length
      while (low < high) {
        const mid = (low + high) >> 1
        if (this.recent[mid].id < filter.cursor) low = mid + 1
        else high = mid
      }
      i = low
    }
    while (i > 0) {
      const job = this.recent[--i]
      if (take(job) !== undefined) {
        return { jobs, next: job.id }
      }
    }

    // Then from disk, for jobs older than memory holds.
    if (!this.recentIsPartial) {
      return { jobs }
    }
    const oldest = this.recent[0]?.id
    const before =
      filter.cursor !== undefined && (oldest === undefined || filter.cursor < oldest)
        ? filter.cursor
        : oldest
    for await (const stored of this.db.sub.jobs.values({
      reverse: true,
      ...(before === undefined ? {} : { lt: before }),
    })) {
      if (take(stored) !== undefined) {
        return { jobs, next: stored.id }
      }
    }

    return { jobs }
  }
}

function isHeld(state: TaskState): boolean {
  return state === 'assigned' || state === 'running'
}

function eventRange(job: string) {
  return { gte: `${job}/`, lt: `${job}/~` }
}

/** The keys of one job's tasks: `<job id>-<n>`. */
function taskRange(job: string) {
  return { gt: `${job}-`, lt: `${job}-~` }
}

function taskNumber(id: string): number {
  return Number(id.slice(id.lastIndexOf('-') + 1))
}

function put(sublevel: Operation['sublevel'], key: string, value: unknown): Operation {
  // A copy: later in-memory changes must not leak into a batch that is still waiting.
  return { type: 'put', sublevel, key, value: structuredClone(value) }
}

/** Sortable by creation time: base-36 milliseconds, then randomness. */
function newJobId(now: number): string {
  return `j${now.toString(36).padStart(9, '0')}${randomBytes(5).toString('hex')}`
}

export const JOB_ID_PATTERN = /^j[0-9a-z]{9}[0-9a-f]{10}$/

function describeJob(job: JobRecord, tasks: number): string {
  return job.kind === 'preheat'
    ? `preheat of ${job.master} to ${tasks} node(s) submitted by ${job.submittedBy}`
    : `${job.product} ${job.version}: ${job.media.map((m) => m.format).join(', ')} ` +
        `from ${job.master}, submitted by ${job.submittedBy}`
}

export function taskLabel(task: TaskRecord): string {
  return task.kind === 'pack' ? `pack ${task.medium?.format}` : task.kind
}

function short(peer: string): string {
  return peer.length > 16 ? `${peer.slice(0, 6)}…${peer.slice(-6)}` : peer
}

export type { TaskState }
