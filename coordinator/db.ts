import { Level } from 'level'
import type { JobEvent, JobRecord, NodeRecord, TaskRecord, TokenRecord } from './records.ts'

// The coordinator's LevelDB: one sublevel per entity. Every state change goes through `commit`,
// which writes the operations of all changes made since the last write as one atomic batch, in
// the order they were made (group commit: many changes per disk write under load, and a change
// is never half on disk).

type Db = Level<string, unknown>

export interface Sublevels {
  jobs: Sublevel<JobRecord>
  tasks: Sublevel<TaskRecord>
  events: Sublevel<JobEvent>
  idempotency: Sublevel<string>
  tokens: Sublevel<TokenRecord>
  nodes: Sublevel<NodeRecord>
}

interface Range {
  gt?: string
  gte?: string
  lt?: string
  lte?: string
  reverse?: boolean
  limit?: number
}

/** The part of a level sublevel the coordinator uses. */
export interface Sublevel<V> {
  get(key: string): Promise<V | undefined>
  values(options?: Range): AsyncIterable<V>
  keys(options?: Range): AsyncIterable<string>
}

export type Operation =
  | { type: 'put'; sublevel: keyof Sublevels; key: string; value: unknown }
  | { type: 'del'; sublevel: keyof Sublevels; key: string }

export class CoordinatorDb {
  readonly sub: Sublevels
  private pending: Operation[] = []
  private flushing: Promise<void> | undefined
  private waiters: { resolve: () => void; reject: (err: unknown) => void }[] = []

  private constructor(private readonly db: Db) {
    const json = { valueEncoding: 'json' as const }
    this.sub = {
      jobs: db.sublevel('jobs', json),
      tasks: db.sublevel('tasks', json),
      events: db.sublevel('events', json),
      idempotency: db.sublevel('idempotency', json),
      tokens: db.sublevel('tokens', json),
      nodes: db.sublevel('nodes', json),
    } as unknown as Sublevels
  }

  static async open(dir: string): Promise<CoordinatorDb> {
    const db = new Level<string, unknown>(dir, { valueEncoding: 'json' })
    await db.open()
    return new CoordinatorDb(db)
  }

  /** Queues operations and resolves once they are on disk, with every change made before. */
  commit(operations: Operation[]): Promise<void> {
    this.pending.push(...operations)
    const written = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }))
    this.flushing ??= this.flush()
    return written
  }

  private async flush(): Promise<void> {
    // Let the changes made in this turn of the event loop join the batch.
    await new Promise((resolve) => setImmediate(resolve))

    while (this.pending.length > 0) {
      const operations = this.pending
      const waiters = this.waiters
      this.pending = []
      this.waiters = []

      try {
        await this.db.batch(
          operations.map((op) =>
            op.type === 'put'
              ? {
                  type: 'put' as const,
                  sublevel: this.sub[op.sublevel] as never,
                  key: op.key,
                  value: op.value,
                }
              : { type: 'del' as const, sublevel: this.sub[op.sublevel] as never, key: op.key },
          ),
        )
        for (const waiter of waiters) waiter.resolve()
      } catch (err) {
        for (const waiter of waiters) waiter.reject(err)
      }
    }

    this.flushing = undefined
  }

  async close(): Promise<void> {
    await this.flushing
    await this.db.close()
  }
}
