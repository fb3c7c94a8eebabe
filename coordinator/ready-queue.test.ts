import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ReadyQueue } from './ready-queue.ts'

interface Item {
  id: string
  queuedAt: number
  priority: number
}

const AGEING = 30_000

function drain(queue: ReadyQueue<Item>): string[] {
  const order: string[] = []
  for (let item = queue.pop(); item !== undefined; item = queue.pop()) {
    order.push(item.id)
  }
  return order
}

test('higher priority first, then first come first served', () => {
  const queue = new ReadyQueue<Item>((item) => item.priority, AGEING)
  queue.push({ id: 'low-old', queuedAt: 1_000, priority: 1 })
  queue.push({ id: 'high', queuedAt: 2_000, priority: 9 })
  queue.push({ id: 'mid-a', queuedAt: 3_000, priority: 5 })
  queue.push({ id: 'mid-b', queuedAt: 3_000, priority: 5 })
  assert.deepEqual(drain(queue), ['high', 'mid-a', 'mid-b', 'low-old'])
})

test('a low-priority task that waited long enough overtakes newer high-priority ones', () => {
  const queue = new ReadyQueue<Item>((item) => item.priority, AGEING)
  // Priority 0 queued 9 ageing periods (and a bit) before a stream of priority-9 tasks.
  queue.push({ id: 'starving', queuedAt: 0, priority: 0 })
  for (let i = 0; i < 100; i++) {
    queue.push({ id: `urgent-${i}`, queuedAt: 9 * AGEING + 1 + i, priority: 9 })
  }
  assert.equal(queue.pop()?.id, 'starving')

  // Without the head start it waits behind them.
  const fresh = new ReadyQueue<Item>((item) => item.priority, AGEING)
  fresh.push({ id: 'starving', queuedAt: 8 * AGEING, priority: 0 })
  fresh.push({ id: 'urgent', queuedAt: 9 * AGEING, priority: 9 })
  assert.deepEqual(drain(fresh), ['urgent', 'starving'])
})

test('an item is queued once however often it is pushed', () => {
  const queue = new ReadyQueue<Item>((item) => item.priority, AGEING)
  const item = { id: 'a', queuedAt: 1, priority: 5 }
  queue.push(item)
  queue.push(item)
  assert.equal(queue.size, 1)
  assert.equal(queue.pop(), item)
  assert.equal(queue.pop(), undefined)
  queue.push(item)
  assert.equal(queue.size, 1)
})

test('10,000 random items come out in key order', () => {
  const queue = new ReadyQueue<Item>((item) => item.priority, AGEING)
  const items: Item[] = []
  let seed = 7
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed / 2 ** 31
  }
  for (let i = 0; i < 10_000; i++) {
    items.push({
      id: String(i),
      queuedAt: Math.floor(random() * 1e6),
      priority: Math.floor(random() * 10),
    })
  }
  for (const item of items) queue.push(item)
  const keys = drain(queue).map((id) => {
    const item = items[Number(id)]
    return item.queuedAt - item.priority * AGEING
  })
  for (let i = 1; i < keys.length; i++) {
    assert.ok(keys[i - 1] <= keys[i])
  }
})
