import type { JobView, TaskView } from '../../protocol/api.ts'
import { errorMessage } from '../../protocol/errors.ts'
import { formatBytes } from '../args.ts'
import { mediumLabel, shortPeer } from './format.ts'
import type { WatchView } from './watch.ts'

// The three ways `pressmesh watch` shows a job: live bars on a terminal, one line per state change
// for logs and pipes, one JSON line per event for scripts.

/** The bar of cli/progress.ts: 30 columns of `#` and `.`, redrawn at most ten times a second. */
const BAR_WIDTH = 30
const REDRAW_MS = 100

export interface Output {
  write(text: string): unknown
  isTTY?: boolean
  columns?: number
}

export function watchView(mode: { json: boolean }, out: Output, err: Output): WatchView {
  if (mode.json) {
    return new JsonView(out, err)
  }

  return out.isTTY === true ? new TerminalView(out) : new PlainView(out, err)
}

function taskLabel(task: TaskView): string {
  return task.kind === 'pack' ? `${task.kind} ${mediumLabel(task.medium)}` : task.kind
}

function reconnectLine(attempt: number, delayMs: number, err: unknown): string {
  const seconds = (delayMs / 1000).toFixed(1)
  return (
    `event stream lost (${errorMessage(err)}); ` +
    `reconnecting in ${seconds} s (attempt ${attempt})`
  )
}

/** One JSON line per event; the job and tasks read on each (re)connection count when changed. */
export class JsonView implements WatchView {
  private readonly printed = new Map<string, string>()

  constructor(
    private readonly out: Output,
    private readonly err: Output,
  ) {}

  job(job: JobView): void {
    this.print('job', job.id, job)
  }

  task(task: TaskView): void {
    this.print('task', task.id, task)
  }

  event(name: string, data: unknown): void {
    if (name === 'node') {
      this.out.write(`${JSON.stringify({ event: name, data })}\n`)
    }
  }

  reconnecting(attempt: number, delayMs: number, err: unknown): void {
    this.err.write(`pressmesh: ${reconnectLine(attempt, delayMs, err)}\n`)
  }

  close(): void {}

  private print(event: string, id: string, data: JobView | TaskView): void {
    const line = JSON.stringify({ event, data })

    if (this.printed.get(`${event}:${id}`) !== line) {
      this.printed.set(`${event}:${id}`, line)
      this.out.write(`${line}\n`)
    }
  }
}

/** One line per state change of the job or one of its tasks. */
export class PlainView implements WatchView {
  private readonly states = new Map<string, string>()

  constructor(
    private readonly out: Output,
    private readonly err: Output,
  ) {}

  job(job: JobView): void {
    if (this.changed(`job:${job.id}`, job.state)) {
      const error = job.error ? `: ${job.error.message} [${job.error.code}]` : ''
      this.out.write(`job ${job.id} ${job.state}${error}\n`)
    }
  }

  task(task: TaskView): void {
    if (this.changed(`task:${task.id}`, `${task.state}/${task.attempt}`)) {
      const node = task.node === undefined ? '' : ` on ${shortPeer(task.node)}`
      const error = task.error ? `: ${task.error.message} [${task.error.code}]` : ''
      this.out.write(
        `task ${task.id} ${taskLabel(task)} ${task.state}${node} ` +
          `(attempt ${task.attempt}/${task.maxAttempts})${error}\n`,
      )
    }
  }

  reconnecting(attempt: number, delayMs: number, err: unknown): void {
    this.err.write(`pressmesh: ${reconnectLine(attempt, delayMs, err)}\n`)
  }

  close(): void {}

  private changed(key: string, value: string): boolean {
    if (this.states.get(key) === value) {
      return false
    }

    this.states.set(key, value)
    return true
  }
}

/** A line for the job and a bar per task, redrawn in place with ANSI cursor moves. */
export class TerminalView implements WatchView {
  private current: JobView | undefined
  private readonly tasks = new Map<string, TaskView>()
  private notice = ''
  private drawnLines = 0
  private lastDraw = 0
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly out: Output,
    private readonly now: () => number = () => performance.now(),
  ) {}

  job(job: JobView): void {
    this.current = job
    this.notice = ''
    this.schedule()
  }

  task(task: TaskView): void {
    this.tasks.set(task.id, task)
    this.notice = ''
    this.schedule()
  }

  reconnecting(attempt: number, delayMs: number, err: unknown): void {
    this.notice = reconnectLine(attempt, delayMs, err)
    this.schedule()
  }

  close(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.draw()
  }

  /** At most one redraw per REDRAW_MS; a change in between is drawn when the period ends. */
  private schedule(): void {
    const wait = this.lastDraw + REDRAW_MS - this.now()

    if (wait <= 0) {
      this.draw()
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.draw()
      }, wait)
    }
  }

  private draw(): void {
    this.lastDraw = this.now()
    const width = Math.max(20, (this.out.columns || 100) - 1)
    const lines = this.lines().map((line) => line.slice(0, width))
    // Cursor up to the first line drawn last time (ECMA-48 CUU), then overwrite each line.
    const up = this.drawnLines > 0 ? `\u001b[${this.drawnLines}A` : ''
    this.out.write(`${up}${lines.map((line) => `\r${line}\u001b[K\n`).join('')}`)
    this.drawnLines = lines.length
  }

  private lines(): string[] {
    const job = this.current
    const head =
      job === undefined
        ? 'waiting for the job'
        : `job ${job.id} ${job.product} ${job.version} ${job.state}` +
          (job.error ? `: ${job.error.message} [${job.error.code}]` : '')
    const labels = [...this.tasks.values()].map(taskLabel)
    const labelWidth = Math.max(0, ...labels.map((label) => label.length))
    const bars = [...this.tasks.values()].map((task, i) =>
      taskBar(task, labels[i].padEnd(labelWidth)),
    )

    return this.notice === '' ? [head, ...bars] : [head, ...bars, this.notice]
  }
}

function taskBar(task: TaskView, label: string): string {
  const progress = task.progress
  const finished = task.state === 'succeeded'
  const done = progress?.done ?? 0
  const total = progress?.total ?? 0
  const fraction = finished ? 1 : total > 0 ? Math.min(1, done / total) : 0
  const filled = Math.round(fraction * BAR_WIDTH)
  const bar = `${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}`
  const amounts =
    progress === undefined ? '' : ` ${progress.phase} ${formatBytes(done)} / ${formatBytes(total)}`
  // The tail of the peer id is enough to tell the nodes of one job apart on a narrow line.
  const node = task.node === undefined ? '' : ` …${task.node.slice(-6)}`

  return (
    `${label} [${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ${task.state}` +
    `${amounts}${node}`
  )
}
