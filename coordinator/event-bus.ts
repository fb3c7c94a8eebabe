// Fan-out of job, task and node changes to the open event streams. Each subscriber has a
// bounded queue; one that falls that far behind is dropped (its client reconnects and reads the
// current state first), so a slow reader never holds memory or slows the others.

export const SUBSCRIBER_QUEUE = 2_000
export const MAX_SUBSCRIBERS = 1_000

export interface BusMessage {
  id: number
  event: 'job' | 'task' | 'node'
  /** The job a job or task message is about. */
  job?: string
  data: string
}

export class Subscription {
  private readonly queue: BusMessage[] = []
  private wakeUp: (() => void) | undefined
  overflowed = false
  closed = false

  constructor(
    readonly job: string | undefined,
    private readonly onClose: (sub: Subscription) => void,
  ) {}

  push(message: BusMessage): void {
    if (this.closed) {
      return
    }
    if (this.queue.length >= SUBSCRIBER_QUEUE) {
      this.overflowed = true
      this.close()
      return
    }
    this.queue.push(message)
    this.wakeUp?.()
  }

  /** The next messages, or an empty list after `timeoutMs` (time for a keep-alive ping). */
  async next(timeoutMs: number): Promise<BusMessage[]> {
    if (this.queue.length === 0 && !this.closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs)
        this.wakeUp = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.wakeUp = undefined
    }
    return this.queue.splice(0, this.queue.length)
  }

  close(): void {
    if (!this.closed) {
      this.closed = true
      this.wakeUp?.()
      this.onClose(this)
    }
  }
}

export class EventBus {
  private readonly subscribers = new Set<Subscription>()
  private seq = 0

  get size(): number {
    return this.subscribers.size
  }

  subscribe(job?: string): Subscription | undefined {
    if (this.subscribers.size >= MAX_SUBSCRIBERS) {
      return undefined
    }
    const sub = new Subscription(job, (s) => this.subscribers.delete(s))
    this.subscribers.add(sub)
    return sub
  }

  publish(event: BusMessage['event'], document: unknown, job?: string): void {
    if (this.subscribers.size === 0) {
      return
    }
    const message: BusMessage = { id: ++this.seq, event, job, data: JSON.stringify(document) }
    for (const sub of this.subscribers) {
      if (sub.job === undefined || sub.job === job) {
        sub.push(message)
      }
    }
  }

  closeAll(): void {
    for (const sub of [...this.subscribers]) {
      sub.close()
    }
  }
}
