import type { KeyObject } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { errorMessage, isPressmeshError, PressmeshError } from '../../protocol/errors.ts'
import {
  type DispatchAnswer,
  type DispatchRequest,
  type OfferAnswer,
  encodeJson,
  HEARTBEAT_MS,
  type Heartbeat,
  MAX_RESULT_BYTES,
  type TaskProgress,
  type TaskSpec,
} from '../../protocol/jobs.ts'
import type { Logger } from '../../protocol/logger.ts'
import type { MeshHost } from '../../protocol/mesh/host.ts'
import { EVENTS_TOPIC } from '../../protocol/mesh/protocol-ids.ts'
import type { ChunkStore } from '../chunk-store/store.ts'
import type { MaterializeOptions, Materialized } from '../mesh-node.ts'
import type { NodeMetrics } from '../metrics.ts'
import { BEAT_SOON_MS, MAX_HELD_TASKS, PIN_SLOTS_SWEPT, STOP_GRACE_MS } from './constants.ts'
import { startDispatchService } from './dispatch-service.ts'
import { ResultOutbox } from './result-delivery.ts'
import { taskError } from './task-error.ts'
import { checkTask, runTask } from './task-work.ts'

// The node's side of dispatch: takes task offers while it has free slots, runs each task in
// the background, lists what it holds in a heartbeat on the events topic (which keeps the
// coordinator's lease alive), and delivers each result to the peer that offered the task until
// that peer acknowledges it. A task is held from the offer until its result is acknowledged;
// it takes a slot only while it works.

export interface TaskRunnerInit {
  host: MeshHost
  store: ChunkStore
  metrics: NodeMetrics
  log: Logger
  /** Tasks (and fetches by hand) the node works on at once. */
  slots: number
  /** Slots taken outside tasks, e.g. fetches started over the node's HTTP API. */
  busyElsewhere: () => number
  materialize: (master: string, options: MaterializeOptions) => Promise<Materialized>
  releaseKey?: KeyObject
}

type ResultFrame = Extract<DispatchRequest, { type: 'result' }>

interface HeldTask {
  spec: TaskSpec
  key: string
  /** The peer that offered the task: its result goes there. */
  coordinator: string
  controller: AbortController
  progress: TaskProgress
  working: boolean
}

const ACCEPT: DispatchAnswer = { v: 1, type: 'accept' }
const ACK: DispatchAnswer = { v: 1, type: 'ack' }
const CANCELLED = 'TASK_CANCELLED'
const STOPPING = 'NODE_STOPPING'

export class TaskRunner {
  private readonly held = new Map<string, HeldTask>()
  private readonly runs = new Set<Promise<void>>()
  private readonly pinSlots = new Set<number>()
  private readonly shutdown = new AbortController()
  private heartbeatTimer: NodeJS.Timeout | undefined
  private beatQueued = false
  private lastBeat = 0
  private stopping = false
  private readonly outbox: ResultOutbox

  constructor(private readonly init: TaskRunnerInit) {
    this.outbox = new ResultOutbox(init, this.shutdown.signal)
  }

  async start(): Promise<void> {
    await this.sweepPins()
    // Subscribed so that gossipsub meshes the topic with the coordinator.
    this.init.host.services.pubsub.subscribe(EVENTS_TOPIC)
    await startDispatchService({
      host: this.init.host,
      metrics: this.init.metrics,
      log: this.init.log,
      answer: (request, peer) => this.answer(request, peer),
    })
  }

  /** Stops taking offers, aborts the tasks at work and gives their results a moment to go out. */
  async stop(): Promise<void> {
    this.stopping = true

    for (const task of this.held.values()) {
      if (task.working) {
        task.controller.abort(new PressmeshError(STOPPING, 'the node is shutting down'))
      }
    }

    const settled = Promise.allSettled([...this.runs])
    await Promise.race([settled, sleep(STOP_GRACE_MS, undefined, { ref: false })])
    this.shutdown.abort()
    await Promise.race([settled, sleep(1_000, undefined, { ref: false })])
    clearInterval(this.heartbeatTimer)
    this.heartbeatTimer = undefined
  }

  /** Tasks at work now; those only delivering a result take no slot. */
  working(): number {
    let count = 0

    for (const task of this.held.values()) {
      count += task.working ? 1 : 0
    }

    return count
  }

  freeSlots(): number {
    return Math.max(0, this.init.slots - this.working() - this.init.busyElsewhere())
  }

  /** Every held task with its progress, as the heartbeat lists them. */
  list(): TaskProgress[] {
    return [...this.held.values()].slice(0, MAX_HELD_TASKS).map((task) => ({ ...task.progress }))
  }

  answer(request: DispatchRequest, peer: string): DispatchAnswer {
    switch (request.type) {
      case 'offer':
        return this.offer(request.task, peer)
      case 'offers':
        return {
          v: 1,
          type: 'answers',
          answers: request.tasks.map((task) => this.offer(task, peer) as OfferAnswer),
        }
      case 'cancel':
        return this.cancel(request.task, request.attempt)
      case 'result':
      case 'results':
        return refuse('BAD_TASK', 'nodes take offers and cancels; results go to the coordinator')
    }
  }

  private offer(spec: TaskSpec, peer: string): DispatchAnswer {
    const key = taskKey(spec.id, spec.attempt)

    // The coordinator may not have heard our first answer: say it again, run it once.
    if (this.held.has(key)) {
      return ACCEPT
    }

    const refusal = this.refusal(spec)
    if (refusal !== undefined) {
      this.init.metrics.tasksRefused.inc({ kind: spec.kind, code: refusal.code })
      this.init.log.debug({ peer, task: spec.id, ...refusal }, 'task offer refused')
      return refuse(refusal.code, refusal.message)
    }

    const task: HeldTask = {
      spec,
      key,
      coordinator: peer,
      controller: new AbortController(),
      progress: { task: spec.id, attempt: spec.attempt, phase: 'starting', done: 0, total: 0 },
      working: true,
    }
    this.held.set(key, task)
    this.init.metrics.tasksAccepted.inc({ kind: spec.kind })

    const run = this.run(task)
      .catch((err) => this.init.log.error({ task: spec.id, err: errorMessage(err) }, 'task broke'))
      .finally(() => this.runs.delete(run))
    this.runs.add(run)
    this.heartbeatsOn()
    return ACCEPT
  }

  private refusal(spec: TaskSpec) {
    if (this.stopping) {
      return { code: 'DRAINING' as const, message: 'the node is shutting down' }
    }

    const bad = checkTask(spec)
    if (bad !== undefined) {
      return bad
    }

    if (this.freeSlots() === 0 || this.held.size >= MAX_HELD_TASKS) {
      return { code: 'NO_SLOTS' as const, message: `all ${this.init.slots} task slots are taken` }
    }

    return undefined
  }

  private cancel(id: string, attempt: number): DispatchAnswer {
    const task = this.held.get(taskKey(id, attempt))

    if (task === undefined) {
      return refuse('NOT_RUNNING', `task ${id} attempt ${attempt} is not held by this node`)
    }

    // A task that already finished keeps its result; it is being delivered.
    if (task.working) {
      task.controller.abort(new PressmeshError(CANCELLED, 'the task was cancelled'))
    }

    return ACK
  }

  private async run(task: HeldTask): Promise<void> {
    this.init.metrics.tasksRunning.inc()
    const frame = await this.work(task)
    this.init.metrics.tasksRunning.dec()
    task.working = false
    this.counterFor(frame.outcome).inc({ kind: task.spec.kind })
    this.setProgress(task, 'reporting', 0, 0)

    const level = task.spec.kind === 'noop' ? 'debug' : 'info'
    this.init.log[level](
      {
        task: task.spec.id,
        attempt: task.spec.attempt,
        outcome: frame.outcome,
        error: frame.error,
      },
      'task finished',
    )

    await this.outbox.deliver(task.coordinator, frame)
    this.held.delete(task.key)

    if (this.held.size === 0) {
      clearInterval(this.heartbeatTimer)
      this.heartbeatTimer = undefined
    }
  }

  private async work(task: HeldTask): Promise<ResultFrame> {
    const { spec, controller } = task
    const base = { v: 1, type: 'result', task: spec.id, attempt: spec.attempt } as const
    const pinSlot = this.takePinSlot()

    try {
      const output = await runTask(this.init, spec, {
        signal: controller.signal,
        pinHolder: `task-slot:${pinSlot}`,
        onProgress: (phase, done, total) => this.setProgress(task, phase, done, total),
      })
      return fitFrame({ ...base, outcome: 'succeeded', output })
    } catch (err) {
      const reason: unknown = controller.signal.reason

      if (controller.signal.aborted && isPressmeshError(reason, CANCELLED)) {
        return { ...base, outcome: 'cancelled', error: { ...taskError(reason), retryable: false } }
      }

      return {
        ...base,
        outcome: 'failed',
        error: taskError(controller.signal.aborted ? reason : err),
      }
    } finally {
      this.pinSlots.delete(pinSlot)
    }
  }

  private counterFor(outcome: ResultFrame['outcome']) {
    const { metrics } = this.init

    if (outcome === 'succeeded') {
      return metrics.tasksSucceeded
    }

    return outcome === 'failed' ? metrics.tasksFailed : metrics.tasksCancelled
  }

  private setProgress(task: HeldTask, phase: string, done: number, total: number): void {
    const changed = task.progress.phase !== phase
    task.progress = { ...task.progress, phase, done, total }

    if (changed) {
      this.beatSoon()
    }
  }

  private heartbeatsOn(): void {
    this.beatSoon()
    this.heartbeatTimer ??= setInterval(() => void this.beat(), HEARTBEAT_MS)
    this.heartbeatTimer.unref()
  }

  /**
   * A heartbeat soon, shared by every change made meanwhile: at once when the last one is older
   * than BEAT_SOON_MS, else when that much has passed. Short tasks come and go many times a
   * second; a heartbeat for each would cost every peer a signature check per task.
   */
  private beatSoon(): void {
    if (this.beatQueued) {
      return
    }

    this.beatQueued = true
    const wait = Math.max(0, this.lastBeat + BEAT_SOON_MS - Date.now())
    const send = () => {
      this.beatQueued = false
      void this.beat()
    }
    if (wait === 0) {
      setImmediate(send)
    } else {
      setTimeout(send, wait).unref()
    }
  }

  private async beat(): Promise<void> {
    if (this.held.size === 0) {
      return
    }

    this.lastBeat = Date.now()
    const heartbeat: Heartbeat = { v: 1, type: 'tasks', running: this.list() }

    try {
      await this.init.host.services.pubsub.publish(EVENTS_TOPIC, encodeJson(heartbeat))
    } catch (err) {
      this.init.log.debug({ err: errorMessage(err) }, 'heartbeat publish failed')
    }
  }

  private takePinSlot(): number {
    let slot = 0
    while (this.pinSlots.has(slot)) {
      slot++
    }

    this.pinSlots.add(slot)
    return slot
  }

  /** Pins are kept on disk: those of tasks cut short by a crash are released at start. */
  private async sweepPins(): Promise<void> {
    for (let slot = 0; slot < Math.max(PIN_SLOTS_SWEPT, this.init.slots); slot++) {
      await this.init.store.unpin(`task-slot:${slot}`)
    }
  }
}

function taskKey(id: string, attempt: number): string {
  return `${id}\u0000${attempt}`
}

function refuse(
  code: Extract<DispatchAnswer, { type: 'refuse' }>['code'],
  message: string,
): DispatchAnswer {
  return { v: 1, type: 'refuse', code, message: message.slice(0, 1024) }
}

/** A result must fit one dispatch frame; one that cannot is reported as a failure that does. */
function fitFrame(frame: ResultFrame): ResultFrame {
  if (encodeJson(frame).length <= MAX_RESULT_BYTES) {
    return frame
  }

  return {
    ...frame,
    outcome: 'failed',
    output: undefined,
    error: {
      code: 'RESULT_TOO_LARGE',
      message: `the result is over ${MAX_RESULT_BYTES} bytes (too many output files)`,
      retryable: false,
    },
  }
}
