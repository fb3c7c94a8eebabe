// The queue of tasks waiting for a node, as a binary heap. Priority with ageing: a task's rank
// is its priority plus one step per AGEING_MS it has waited. Comparing two tasks at any moment,
// `now` cancels out, so the order is fixed by `queuedAt - priority * AGEING_MS` (lower first):
// a heap keyed by that never needs re-sorting as time passes, and a task that waited long
// enough overtakes any newer one of higher priority.

export interface Queued {
  id: string
  queuedAt?: number
}

export class ReadyQueue<T extends Queued> {
  private readonly heap: { key: number; seq: number; item: T }[] = []
  private readonly members = new Set<string>()
  private seq = 0

  constructor(
    private readonly priorityOf: (item: T) => number,
    private readonly ageingMs: number,
  ) {}

  get size(): number {
    return this.heap.length
  }

  has(id: string): boolean {
    return this.members.has(id)
  }

  push(item: T): void {
    if (this.members.has(item.id)) {
      return
    }
    this.members.add(item.id)
    const key = (item.queuedAt ?? Date.now()) - this.priorityOf(item) * this.ageingMs
    this.heap.push({ key, seq: this.seq++, item })
    this.up(this.heap.length - 1)
  }

  pop(): T | undefined {
    const top = this.heap[0]
    if (top === undefined) {
      return undefined
    }
    const last = this.heap.pop()!
    if (this.heap.length > 0) {
      this.heap[0] = last
      this.down(0)
    }
    this.members.delete(top.item.id)
    return top.item
  }

  private less(a: number, b: number): boolean {
    const x = this.heap[a]
    const y = this.heap[b]
    return x.key < y.key || (x.key === y.key && x.seq < y.seq)
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.less(i, parent)) {
        return
      }
      this.swap(i, parent)
      i = parent
    }
  }

  private down(i: number): void {
    const n = this.heap.length
    while (true) {
      const left = 2 * i + 1
      const right = left + 1
      let best = i
      if (left < n && this.less(left, best)) best = left
      if (right < n && this.less(right, best)) best = right
      if (best === i) {
        return
      }
      this.swap(i, best)
      i = best
    }
  }

  private swap(a: number, b: number): void {
    const t = this.heap[a]
    this.heap[a] = this.heap[b]
    this.heap[b] = t
  }
}
