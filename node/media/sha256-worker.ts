import type { Worker } from 'node:worker_threads'
import { PressmeshError } from '../../protocol/errors.ts'
import { startWorker } from '../../protocol/worker.ts'

// SHA-256 on a worker thread. Publishing a medium needs SHA-256 and BLAKE3 of every byte; BLAKE3
// is more than twice as fast, so it stays on the thread that produces and writes the medium and
// SHA-256 runs here, which balances the two cores. Buffers backed by a SharedArrayBuffer cross
// without a copy; the worker answers every update in order.

export type Sha256Request =
  | { op: 'update'; stream: number; bytes: Uint8Array }
  | { op: 'digest'; stream: number }

export type Sha256Response =
  | { op: 'updated'; stream: number }
  | { op: 'digest'; stream: number; sha256: string }

export interface Sha256Stream {
  /** Settles once the bytes are hashed; they must not change before. */
  update(bytes: Uint8Array): Promise<void>
  digest(): Promise<string>
}

interface OpenStream {
  acks: Array<() => void>
  done?: { resolve: (hex: string) => void; reject: (err: Error) => void }
}

export class Sha256Worker {
  private readonly worker: Worker
  private readonly streams = new Map<number, OpenStream>()
  private nextStream = 0
  private failure: Error | undefined

  constructor() {
    this.worker = startWorker(new URL('./sha256-worker-thread.ts', import.meta.url))
    this.worker.on('message', (response: Sha256Response) => this.receive(response))
    this.worker.on('error', (err) => this.fail(err))
    this.worker.on('exit', () => this.fail(new Error('the SHA-256 worker exited')))
  }

  open(): Sha256Stream {
    const id = this.nextStream++
    const stream: OpenStream = { acks: [] }
    this.streams.set(id, stream)

    return {
      update: (bytes) => {
        this.check()
        const hashed = new Promise<void>((resolve) => stream.acks.push(resolve))
        this.worker.postMessage({ op: 'update', stream: id, bytes } satisfies Sha256Request)
        return hashed.then(() => this.check())
      },
      digest: () =>
        new Promise<string>((resolve, reject) => {
          this.check()
          stream.done = { resolve, reject }
          this.worker.postMessage({ op: 'digest', stream: id } satisfies Sha256Request)
        }),
    }
  }

  async stop(): Promise<void> {
    this.worker.removeAllListeners('exit')
    await this.worker.terminate()
  }

  private receive(response: Sha256Response): void {
    const stream = this.streams.get(response.stream)

    if (response.op === 'updated') {
      stream?.acks.shift()?.()
      return
    }

    this.streams.delete(response.stream)
    stream?.done?.resolve(response.sha256)
  }

  private fail(err: Error): void {
    this.failure ??= new PressmeshError(
      'HASH_WORKER_FAILED',
      `SHA-256 worker failed: ${err.message}`,
      {
        cause: err,
      },
    )

    for (const stream of this.streams.values()) {
      for (const ack of stream.acks.splice(0)) {
        ack()
      }

      stream.done?.reject(this.failure)
    }

    this.streams.clear()
  }

  private check(): void {
    if (this.failure !== undefined) {
      throw this.failure
    }
  }
}
