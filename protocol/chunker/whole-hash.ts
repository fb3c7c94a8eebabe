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

/** Which digests one hashing thread computes for a stream. */
export type DigestKind = 'both' | keyof WholeDigest

/**
 * Hashes one file's bytes, in order, for both digests. `update` returns a promise when the
 * bytes are hashed elsewhere; the caller must not change them before it settles.
 */
export interface WholeHasher {
  update(bytes: Uint8Array): undefined | Promise<void>
  digest(): WholeDigest | Promise<WholeDigest>
}

/** A hasher for some of the digests, as a hashing thread runs it. */
export interface PartialHasher {
  update(bytes: Uint8Array): void
  digest(): Partial<WholeDigest>
}

export function inlineWholeHasher(): WholeHasher {
  const hasher = partialHasher('both')

  return {
    update(bytes) {
      hasher.update(bytes)
      return undefined
    },
    digest: () => hasher.digest() as WholeDigest,
  }
}

export function partialHasher(kind: DigestKind): PartialHasher {
  const blake3 = kind === 'sha256' ? undefined : new Blake3Hasher()
  const sha256 = kind === 'blake3' ? undefined : createHash('sha256')

  return {
    update(bytes) {
      blake3?.update(asBuffer(bytes))
      sha256?.update(bytes)
    },
    digest: () => ({ blake3: blake3?.digest('hex'), sha256: sha256?.digest('hex') }),
  }
}

export type HashRequest =
  | { op: 'update'; stream: number; kind: DigestKind; bytes: Uint8Array }
  | { op: 'digest'; stream: number; kind: DigestKind }

export type HashResponse =
  | { op: 'updated'; stream: number }
  | ({ op: 'digest'; stream: number } & Partial<WholeDigest>)

export interface OpenOptions {
  /**
   * Compute SHA-256 and BLAKE3 on two threads of their own, so that a stream is hashed in
   * about the SHA-256 time. Worth it when the caller's thread has little else to do per byte
   * (writing media); indexing keeps the caller's core busy chunking, so it hashes on one.
   */
  split?: boolean
}

/**
 * Whole-file hashing on worker threads, so that chunking or writing and whole-file hashing of
 * the same bytes use both cores. Buffers backed by a SharedArrayBuffer cross without a copy
 * (and, for a split stream, are read by both threads at once).
 */
export class HashWorker {
  /** The first thread starts at once, as it always has; the second when a split stream opens. */
  private readonly threads: HashThread[] = [new HashThread()]
  private nextStream = 0

  open(options: OpenOptions = {}): WholeHasher {
    const id = this.nextStream++

    if (options.split !== true) {
      const both = this.thread(0).open(id, 'both')
      return { update: both.update, digest: () => both.digest() as Promise<WholeDigest> }
    }

    const sha256 = this.thread(0).open(id, 'sha256')
    const blake3 = this.thread(1).open(id, 'blake3')

    return {
      update: (bytes) => bothHashed(sha256.update(bytes), blake3.update(bytes)),
      digest: async () => {
        const [first, second] = await Promise.all([sha256.digest(), blake3.digest()])
        return { sha256: first.sha256!, blake3: second.blake3! }
      },
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.threads.map((thread) => thread.stop()))
  }

  private thread(index: number): HashThread {
    this.threads[index] ??= new HashThread()
    return this.threads[index]
  }
}

/** Both promises settled; the first failure wins, but neither is left unobserved. */
async function bothHashed(first: Promise<void>, second: Promise<void>): Promise<void> {
  const [a, b] = await Promise.allSettled([first, second])

  for (const result of [a, b]) {
    if (result.status === 'rejected') {
      throw result.reason
    }
  }
}

interface OpenStream {
  /** One per buffer posted and not yet hashed, oldest first: the thread answers in order. */
  acks: Array<() => void>
  done:
    | { resolve: (digest: Partial<WholeDigest>) => void; reject: (err: Error) => void }
    | undefined
}

interface ThreadStream {
  update(bytes: Uint8Array): Promise<void>
  digest(): Promise<Partial<WholeDigest>>
}

/** One hashing worker thread and the streams open on it. */
class HashThread {
  private readonly worker: Worker
  private readonly streams = new Map<number, OpenStream>()
  private failure: Error | undefined

  constructor() {
    this.worker = startWorker(new URL('./whole-hash-worker.ts', import.meta.url))
    this.worker.on('message', (response: HashResponse) => this.receive(response))
    this.worker.on('error', (err) => this.fail(err))
    this.worker.on('exit', () => this.fail(new Error('the hashing worker exited')))
  }

  open(id: number, kind: DigestKind): ThreadStream {
    const stream: OpenStream = { acks: [], done: undefined }
    this.streams.set(id, stream)

    return {
      update: (bytes) => {
        this.check()
        const hashed = new Promise<void>((resolve) => stream.acks.push(resolve))
        this.worker.postMessage({ op: 'update', stream: id, kind, bytes } satisfies HashRequest)

        return hashed.then(() => this.check())
      },
      digest: () =>
        new Promise<Partial<WholeDigest>>((resolve, reject) => {
          this.check()
          stream.done = { resolve, reject }
          this.worker.postMessage({ op: 'digest', stream: id, kind } satisfies HashRequest)
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
