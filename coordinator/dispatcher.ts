import { join } from 'node:path'
import { errorMessage } from '../protocol/errors.ts'
import type { Heartbeat, MediaTargetSpec, TaskSpec } from '../protocol/jobs.ts'
import type { Logger } from '../protocol/logger.ts'
import type { JobBook } from './job-book.ts'
import type { MeshLink, NodeState, ResultRequest } from './mesh-link.ts'
import type { CoordinatorMetrics } from './metrics.ts'
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
  /** Per node: offers in flight (counted as held until answered). */
  private readonly pending = new Map<string, number>()
  /** Per task: nodes that said they cannot run it. */
  private readonly unsupported = new Map<string, Set<string>>()
  private scheduled = false
  private sweepTimer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(private readonly init: DispatcherInit) {
    init.book.on('ready', () => this.wake())
    init.book.on('stop', (task) => this.stopOnNode(task))
  }

  start(): void {
    this.sweepTimer = setInterval(() => {
      this.sweepLeases()
      this.wake()
    }, SWEEP_MS)
    this.sweepTimer.unref()
    this.wake()
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
    let count = this.pending.get(peer) ?? 0
    for (const task of this.init.book.held()) {
      if (task.node === peer) {
        count++
      }
    }
    return count
  }

  /** Called on every presence: the node's own count of free slots is the new baseline. */
  noteAnnounce(node: NodeState): void {
    node.heldAtAnnounce = this.held(node.peer)
    this.wake()
  }

  private round(): void {
    const now = Date.now()
    const ready = [...this.init.book.queued(now)].filter((task) => !this.offering.has(task.id))
    if (ready.length === 0) {
      return
    }

    const job = (task: TaskRecord) => this.init.book.jobOf(task)
    const effective = (task: TaskRecord) =>
      (job(task)?.priority ?? 0) + Math.floor((now - (task.queuedAt ?? now)) / AGEING_MS)
    ready.sort((a, b) => effective(b) - effective(a) || (a.queuedAt ?? 0) - (b.queuedAt ?? 0))

    // Free slots per node, estimated once per round and spent as tasks are placed.
    const free = new Map<string, number>()
    const heldNow = this.heldByNode()
    for (const node of this.init.link.nodes.values()) {
      if (!this.eligible(node, now)) {
        continue
      }
      const held = (heldNow.get(node.peer) ?? 0) + (this.pending.get(node.peer) ?? 0)
      const estimate = node.announcedFree - Math.max(0, held - node.heldAtAnnounce)
      if (estimate > 0) {
        free.set(node.peer, estimate)
      }
    }

    for (const task of ready) {
      if (this.offering.size >= MAX_OFFERS_IN_FLIGHT) {
        break
      }

      const record = job(task)
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
        }
        continue
      }

      const peer = this.choose(task, record, free)
      if (peer === undefined) {
        continue
      }

      free.set(peer, (free.get(peer) ?? 1) - 1)
      void this.offer(task, record, peer)
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

  private heldByNode(): Map<string, number> {
    const counts = new Map<string, number>()
    for (const task of this.init.book.held()) {
      if (task.node !== undefined) {
        counts.set(task.node, (counts.get(task.node) ?? 0) + 1)
      }
    }
    return counts
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

  private async offer(task: TaskRecord, job: JobRecord, peer: string): Promise<void> {
    const { book, link, metrics, leaseMs } = this.init
    this.offering.add(task.id)
    this.pending.set(peer, (this.pending.get(peer) ?? 0) + 1)
    const attempt = task.attempt
    const started = performance.now()

    try {
      metrics.tasksOffered.inc({ kind: task.kind })
      const answer = await link.offer(peer, this.spec(task, job))
      metrics.offerSeconds.observe((performance.now() - started) / 1000)

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

      if (answer.type === 'refuse') {
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
    } catch (err) {
      metrics.offerFailures.inc()
      const node = link.nodes.get(peer)
      if (node !== undefined) {
        node.full = true
      }
      book.unoffered(task, 500)
      this.init.log.warn({ peer, task: task.id, err: errorMessage(err) }, 'offer failed')
    } finally {
      this.offering.delete(task.id)
      const left = (this.pending.get(peer) ?? 1) - 1
      if (left > 0) {
        this.pending.set(peer, left)
      } else {
        this.pending.delete(peer)
      }
      this.wake()
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
