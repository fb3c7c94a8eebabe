import { join } from 'node:path'
import { errorMessage } from '../protocol/errors.ts'
import {
  type DispatchAnswer,
  type Heartbeat,
  MAX_DISPATCH_BATCH,
  type MediaTargetSpec,
  type TaskSpec,
} from '../protocol/jobs.ts'
import type { Logger } from '../protocol/logger.ts'
import type { JobBook } from './job-book.ts'
import type { MeshLink, NodeState, ResultRequest } from './mesh-link.ts'
import type { CoordinatorMetrics } from './metrics.ts'
import { ReadyQueue } from './ready-queue.ts'
import type { JobRecord, TaskRecord } from './records.ts'

// Hands queued tasks to nodes. Each round orders the ready tasks by priority with ageing (a
// waiting task gains one priority step per AGEING_MS, so a low-priority job cannot starve), and
// gives each to the best node that has a free slot: most of the master's chunks first, then the
// most free slots, then the lowest load. Leases are renewed by the nodes' heartbeats; a lease
// that runs out puts its task back in the queue.

export const AGEING_MS = 30_000
/** Offers waiting for a node's answer, across all nodes. */
export const MAX_OFFERS_IN_FLIGHT = 128
/** A preheat task whose node has been gone this long fails. */
export const PINNED_WAIT_MS = 120_000
const SWEEP_MS = 250

export interface MediaRoot {
  /** A folder path, or an http(s) URL of a WebDAV collection. */
  location: string
}

export interface DispatcherInit {
  book: JobBook
  link: MeshLink
  metrics: CoordinatorMetrics
  log: Logger
  leaseMs: number
  media: MediaRoot
  /** Peers that take no new tasks. */
  draining: (peer: string) => boolean
}

export class Dispatcher {
  private readonly offering = new Set<string>()
  private readonly queue: ReadyQueue<TaskRecord>
  /** Per node: offers in flight (counted as held until answered). */
  private readonly pending = new Map<string, number>()
  /** Per task: nodes that said they cannot run it. */
  private readonly unsupported = new Map<string, Set<string>>()
  private scheduled = false
  private sweepTimer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(private readonly init: DispatcherInit) {
    this.queue = new ReadyQueue((task) => init.book.jobOf(task)?.priority ?? 0, AGEING_MS)
    init.book.on('ready', (task) => this.enqueue(task))
    init.book.on('stop', (task) => this.stopOnNode(task))
  }

  start(): void {
    this.sweepTimer = setInterval(() => {
      this.sweepLeases()
      this.wake()
    }, SWEEP_MS)
    this.sweepTimer.unref()
    for (const task of this.init.book.queued(Number.POSITIVE_INFINITY)) {
      this.queue.push(task)
    }
    this.wake()
  }

  /** Puts a queued task in the ready queue, at once or when its backoff ends. */
  private enqueue(task: TaskRecord): void {
    const wait = (task.notBefore ?? 0) - Date.now()
    if (wait > 0) {
      setTimeout(() => this.enqueue(task), wait).unref()
      return
    }
    if (task.state === 'queued' && !this.offering.has(task.id)) {
      this.queue.push(task)
      this.wake()
    }
  }

  stop(): void {
    this.stopped = true
    clearInterval(this.sweepTimer)
  }

  wake(): void {
    if (this.scheduled || this.stopped) {
      return
    }
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.round()
    })
  }

  /** Tasks the coordinator has given the node that are not finished, plus offers in flight. */
  held(peer: string): number {
    return this.init.book.heldOn(peer) + (this.pending.get(peer) ?? 0)
  }

  /** Called on every presence: the node's own count of free slots is the new baseline. */
  noteAnnounce(node: NodeState): void {
    node.heldAtAnnounce = this.held(node.peer)
    this.wake()
  }

  /**
   * One round: spend the free slots the nodes have on the front of the queue. Only as many
   * tasks are taken off the queue as can be placed (plus a bounded number that cannot, such as
   * preheat tasks whose node is busy), so a round costs little however long the queue is.
   */
  private round(): void {
    const now = Date.now()
    const free = new Map<string, number>()
    let totalFree = 0
    for (const node of this.init.link.nodes.values()) {
      if (!this.eligible(node, now)) {
        continue
      }
      const held = this.held(node.peer)
      const estimate = node.announcedFree - Math.max(0, held - node.heldAtAnnounce)
      if (estimate > 0) {
        free.set(node.peer, estimate)
        totalFree += estimate
      }
    }

    const setAside: TaskRecord[] = []
    const batches = new Map<string, { task: TaskRecord; job: JobRecord }[]>()
    let examined = 0
    while (
      totalFree > 0 &&
      this.offering.size < MAX_OFFERS_IN_FLIGHT &&
      examined < 2 * totalFree + 256
    ) {
      const task = this.queue.pop()
      if (task === undefined) {
        break
      }
      examined++
      if (task.state !== 'queued' || this.offering.has(task.id)) {
        continue
      }
      if ((task.notBefore ?? 0) > now) {
        this.enqueue(task)
        continue
      }

      const record = this.init.book.jobOf(task)
      if (record === undefined) {
        continue
      }

      if (task.pinnedTo !== undefined && !this.init.link.alive(task.pinnedTo, now)) {
        if (now - (task.queuedAt ?? now) > PINNED_WAIT_MS) {
          void this.init.book.failUnplaceable(task, {
            code: 'NODE_GONE',
            message: `node ${task.pinnedTo} has not been seen for ${PINNED_WAIT_MS / 1000} s`,
            retryable: false,
          })
        } else {
          setAside.push(task)
        }
        continue
      }

      const peer = this.choose(task, record, free)
      if (peer === undefined) {
        setAside.push(task)
        continue
      }

      free.set(peer, (free.get(peer) ?? 1) - 1)
      totalFree--
      this.offering.add(task.id)
      let batch = batches.get(peer)
      if (batch === undefined) {
        batch = []
        batches.set(peer, batch)
      }
      batch.push({ task, job: record })
    }

    for (const task of setAside) {
      this.queue.push(task)
    }
    for (const [peer, batch] of batches) {
      for (let i = 0; i < batch.length; i += MAX_DISPATCH_BATCH) {
        void this.offer(peer, batch.slice(i, i + MAX_DISPATCH_BATCH))
      }
    }
  }

  private eligible(node: NodeState, now: number): boolean {
    return (
      !node.full &&
      now - node.lastSeen < 10_000 &&
      node.presence.roles.includes('production') &&
      !this.init.draining(node.peer)
    )
  }

  private choose(task: TaskRecord, job: JobRecord, free: Map<string, number>) {
    const refused = this.unsupported.get(task.id)
    let best: string | undefined
    let bestScore = Number.NEGATIVE_INFINITY

    for (const [peer, slots] of free) {
      if (slots <= 0 || refused?.has(peer)) {
        continue
      }
      if (task.pinnedTo !== undefined && task.pinnedTo !== peer) {
        continue
      }

      const node = this.init.link.nodes.get(peer)
      const locality =
        task.kind === 'noop' ? 0 : this.init.link.locality(peer, job.manifest, job.master)
      const score = 4 * locality + 0.5 * Math.min(slots, 8) - Math.min(node?.presence.load ?? 0, 4)
      if (score > bestScore) {
        best = peer
        bestScore = score
      }
    }

    return best
  }

  /** Offers tasks to one node, in one frame when there are several. */
  private async offer(peer: string, batch: { task: TaskRecord; job: JobRecord }[]): Promise<void> {
    const { link, metrics } = this.init
    const attempts = batch.map(({ task }) => task.attempt)
    // round() marked the batch as offering when it chose the node.
    for (const { task } of batch) {
      metrics.tasksOffered.inc({ kind: task.kind })
    }
    this.pending.set(peer, (this.pending.get(peer) ?? 0) + batch.length)
    const started = performance.now()

    try {
      const specs = batch.map(({ task, job }) => this.spec(task, job))
      const answers =
        specs.length === 1 ? [await link.offer(peer, specs[0])] : await link.offerMany(peer, specs)
      metrics.offerSeconds.observe((performance.now() - started) / 1000)

      await Promise.all(
        batch.map(({ task }, i) =>
          this.answered(
            peer,
            task,
            attempts[i],
            answers[i] ?? { v: 1, type: 'refuse', code: 'BAD_TASK', message: 'no answer' },
          ),
        ),
      )
    } catch (err) {
      metrics.offerFailures.inc()
      const node = link.nodes.get(peer)
      if (node !== undefined) {
        node.full = true
      }
      for (const { task } of batch) {
        this.init.book.unoffered(task, 500)
      }
      this.init.log.warn({ peer, tasks: batch.length, err: errorMessage(err) }, 'offer failed')
    } finally {
      for (const { task } of batch) {
        this.offering.delete(task.id)
        if (task.state === 'queued') {
          this.enqueue(task)
        }
      }
      const left = (this.pending.get(peer) ?? batch.length) - batch.length
      if (left > 0) {
        this.pending.set(peer, left)
      } else {
        this.pending.delete(peer)
      }
      this.wake()
    }
  }

  private async answered(peer: string, task: TaskRecord, attempt: number, answer: DispatchAnswer) {
    const { book, link, metrics, leaseMs } = this.init

    if (task.state !== 'queued' || task.attempt !== attempt) {
      // Cancelled (or adopted from a heartbeat) while the offer was out.
      if (answer.type === 'accept' && task.node !== peer) {
        this.cancelOn(peer, task.id, attempt)
      }
      return
    }

    if (answer.type === 'accept') {
      await book.assign(task, peer, leaseMs)
      return
    }

    if (answer.type !== 'refuse') {
      book.unoffered(task, 500)
      return
    }

    metrics.tasksRefused.inc({ code: answer.code })
    const node = link.nodes.get(peer)
    if (answer.code === 'NO_SLOTS' || answer.code === 'DRAINING') {
      if (node !== undefined) {
        node.full = true
      }
      book.unoffered(task, 50)
    } else if (answer.code === 'BAD_TASK') {
      await book.failUnplaceable(task, {
        code: 'TASK_REFUSED',
        message: `${peer} refused the task: ${answer.message}`,
        retryable: false,
      })
    } else {
      const refused = this.unsupported.get(task.id) ?? new Set()
      refused.add(peer)
      this.unsupported.set(task.id, refused)
      book.unoffered(task, 100)
    }
  }

  private spec(task: TaskRecord, job: JobRecord): TaskSpec {
    const name = `${job.product}-${job.version}`
    return {
      id: task.id,
      job: job.id,
      attempt: task.attempt,
      kind: task.kind,
      master: job.master,
      manifest: job.manifest,
      medium: task.medium,
      name: task.kind === 'pack' ? name : undefined,
      volumeId:
        task.kind === 'pack'
          ? `${job.product}_${job.version}`
              .toUpperCase()
              .replace(/[^A-Z0-9_]/g, '_')
              .slice(0, 32)
          : undefined,
      target: task.kind === 'pack' ? this.target(job, task) : undefined,
      leaseMs: this.init.leaseMs,
    }
  }

  /** Each medium of each job has its own folder: nothing of one job overwrites another's. */
  private target(job: JobRecord, task: TaskRecord): MediaTargetSpec {
    const parts = [job.product, job.version, job.id, task.medium?.format ?? 'medium']
    const root = this.init.media.location
    if (/^https?:\/\//.test(root)) {
      return {
        type: 'dav',
        url: `${root.replace(/\/+$/, '')}/${parts.map(encodeURIComponent).join('/')}/`,
      }
    }
    return { type: 'folder', dir: join(root, ...parts) }
  }

  /** Heartbeats renew leases; a task a node runs that it should not is stopped there. */
  heartbeat(peer: string, heartbeat: Heartbeat): void {
    const { book, leaseMs } = this.init
    for (const entry of heartbeat.running) {
      const task = book.tasks.get(entry.task)
      const held = task !== undefined && (task.state === 'assigned' || task.state === 'running')

      if (held && task.node === peer && task.attempt === entry.attempt) {
        book.renew(task, { phase: entry.phase, done: entry.done, total: entry.total }, leaseMs)
      } else if (this.offering.has(entry.task)) {
        // The node's answer to the offer is on its way.
      } else if (
        task !== undefined &&
        task.state === 'queued' &&
        task.attempt === entry.attempt &&
        entry.phase !== 'reporting'
      ) {
        // The node accepted an offer whose answer was lost: it holds the task after all.
        void book.assign(task, peer, leaseMs)
      } else if (entry.phase !== 'reporting') {
        this.cancelOn(peer, entry.task, entry.attempt)
      }
    }
  }

  async result(peer: string, result: ResultRequest): Promise<void> {
    const task = this.init.book.tasks.get(result.task)
    if (
      task === undefined ||
      task.node !== peer ||
      task.attempt !== result.attempt ||
      (task.state !== 'assigned' && task.state !== 'running')
    ) {
      this.init.log.debug(
        { peer, task: result.task },
        'ignoring a result for an attempt given up on',
      )
      return
    }

    this.init.metrics.tasksFinished.inc({ kind: task.kind, outcome: result.outcome })
    this.unsupported.delete(task.id)
    await this.init.book.finish(task, result.outcome, {
      output: result.output,
      error: result.error,
    })
  }

  private sweepLeases(): void {
    const now = Date.now()
    for (const task of [...this.init.book.held()]) {
      if (task.leaseUntil !== undefined && task.leaseUntil < now) {
        this.init.metrics.leasesExpired.inc()
        this.init.log.warn({ task: task.id, node: task.node }, 'lease expired, re-queueing')
        void this.init.book.expire(task)
      }
    }
  }

  private stopOnNode(task: TaskRecord): void {
    if (task.node !== undefined) {
      this.cancelOn(task.node, task.id, task.attempt)
    }
  }

  private cancelOn(peer: string, task: string, attempt: number): void {
    this.init.link
      .cancel(peer, task, attempt)
      .catch((err) =>
        this.init.log.debug(
          { peer, task, err: errorMessage(err) },
          'cancel did not reach the node',
        ),
      )
  }
}
