import { createHash } from 'node:crypto'
import type { Worker } from 'node:worker_threads'
import { PressmeshError } from '../errors.ts'
import { asBuffer, Blake3Hasher } from '../hash.ts'
import { startWorker } from '../worker.ts'

/** The two whole-file digests every manifest records. */
export interface WholeDigest {
  blake3: string
  sha256: string
}

/**
 * Hashes one file's bytes, in order, for both digests. `update` returns a promise when the
 * bytes are hashed elsewhere; the caller must not change them before it settles.
 */
export interface WholeHasher {
  update(bytes: Uint8Array): undefined | Promise<void>
  digest(): WholeDigest | Promise<WholeDigest>
}

export function inlineWholeHasher(): WholeHasher {
  const blake3 = new Blake3Hasher()
  const sha256 = createHash('sha256')

  return {
    update(bytes) {
      blake3.update(asBuffer(bytes))
      sha256.update(bytes)
      return undefined
    },
    digest() {
      return { blake3: blake3.digest('hex'), sha256: sha256.digest('hex') }
    },
  }
}

export type HashRequest =
  | { op: 'update'; stream: number; bytes: Uint8Array }
  | { op: 'digest'; stream: number }

export type HashResponse =
  | { op: 'updated'; stream: number }
  | ({ op: 'digest'; stream: number } & WholeDigest)

interface OpenStream {
  /** One per buffer posted and not yet hashed, oldest first: the worker answers in order. */
  acks: Array<() => void>
  done: { resolve: (digest: WholeDigest) => void; reject: (err: Error) => void } | undefined
}

/**
 * Whole-file hashing on a worker thread, so that chunking and whole-file hashing of the same
 * bytes use both cores. Buffers backed by a SharedArrayBuffer cross without a copy.
 */
export class HashWorker {
  private readonly worker: Worker
  private readonly streams = new Map<number, OpenStream>()
  private nextStream = 0
  private failure: Error | undefined

  constructor() {
    this.worker = startWorker(new URL('./whole-hash-worker.ts', import.meta.url))
    this.worker.on('message', (response: HashResponse) => this.receive(response))
    this.worker.on('error', (err) => this.fail(err))
    this.worker.on('exit', () => this.fail(new Error('the hashing worker exited')))
  }

  open(): WholeHasher {
    const id = this.nextStream++
    const stream: OpenStream = { acks: [], done: undefined }
    this.streams.set(id, stream)

    return {
      update: (bytes) => {
        this.check()
        const hashed = new Promise<void>((resolve) => stream.acks.push(resolve))
        this.worker.postMessage({ op: 'update', stream: id, bytes } satisfies HashRequest)

        return hashed.then(() => this.check())
      },
      digest: () =>
        new Promise<WholeDigest>((resolve, reject) => {
          this.check()
          stream.done = { resolve, reject }
          this.worker.postMessage({ op: 'digest', stream: id } satisfies HashRequest)
        }),
    }
  }

  async stop(): Promise<void> {
    this.worker.removeAllListeners('exit')
    await this.worker.terminate()
  }

  private receive(response: HashResponse): void {
    const stream = this.streams.get(response.stream)

    if (stream === undefined) {
      return
    }

    if (response.op === 'updated') {
      stream.acks.shift()?.()
      return
    }

    this.streams.delete(response.stream)
    stream.done?.resolve({ blake3: response.blake3, sha256: response.sha256 })
  }

  private fail(err: Error): void {
    this.failure ??= new PressmeshError(
      'HASH_WORKER_FAILED',
      `hashing worker failed: ${err.message}`,
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
