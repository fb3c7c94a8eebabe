import { PressmeshError } from '../errors.ts'
import { type ChunkData, Chunker, type ChunkRef } from './chunker.ts'
import type { ChunkerParams } from './params.ts'
import { inlineWholeHasher, type WholeDigest, type WholeHasher } from './whole-hash.ts'

export interface StreamDigest extends WholeDigest {
  size: number
  chunks: ChunkRef[]
}

export interface DigestInit {
  /** Receives each chunk's bytes, e.g. to store it; at most `maxPendingChunks` run at once. */
  onChunk?: (chunk: ChunkData) => unknown
  /** Called with the number of bytes consumed since the last call. */
  onBytes?: (bytes: number) => void
  /** Whole-file hashing; a worker-backed hasher moves it off this thread. */
  hasher?: WholeHasher
  maxPendingChunks?: number
  /** Told the stream offset below which no bytes are needed any more (see ReadRing). */
  release?: (offset: number) => void
  signal?: AbortSignal
}

export const MAX_PENDING_CHUNKS = 4
/** Buffers handed to an asynchronous whole-file hasher and not yet hashed. */
export const HASH_WINDOW = 4

/**
 * One pass over a stream: content-defined chunks with their BLAKE3 ids, and the whole-stream
 * BLAKE3 and SHA-256, from the same buffers as they arrive.
 */
export async function digestStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  params: ChunkerParams,
  init: DigestInit = {},
): Promise<StreamDigest> {
  const chunker = new Chunker(params)
  const hasher = init.hasher ?? inlineWholeHasher()
  const hashing: Array<Promise<void>> = []
  const chunks: ChunkRef[] = []
  let size = 0
  let hashedTo = 0
  /** Offset of the first chunk that is cut but not yet handed to the sink. */
  let unsubmittedFrom = Number.POSITIVE_INFINITY

  // Bytes are needed until the chunker has cut them into chunks, the whole-file hasher has
  // consumed them and the chunk callback has finished with them.
  const release = () => {
    const pending = sink.oldestPendingOffset() ?? Number.POSITIVE_INFINITY
    init.release?.(Math.min(chunker.heldFrom(), hashedTo, pending, unsubmittedFrom))
  }
  const sink = new ChunkSink(init.onChunk, init.maxPendingChunks ?? MAX_PENDING_CHUNKS, release)

  for await (const buf of source) {
    init.signal?.throwIfAborted()

    const end = size + buf.length
    const hashed = hasher.update(buf)

    if (hashed === undefined) {
      hashedTo = end
    } else {
      hashing.push(
        hashed.then(() => {
          hashedTo = end
          release()
        }),
      )
    }

    const cut = chunker.push(buf)
    for (const chunk of cut) {
      unsubmittedFrom = chunk.offset
      chunks.push({ id: chunk.id, size: chunk.size })
      await sink.put(chunk)
    }

    unsubmittedFrom = Number.POSITIVE_INFINITY

    size = end
    init.onBytes?.(buf.length)

    while (hashing.length > HASH_WINDOW) {
      await hashing.shift()
    }

    release()
  }

  await Promise.all(hashing)

  const last = chunker.finish()
  if (last !== undefined) {
    chunks.push({ id: last.id, size: last.size })
    await sink.put(last)
  }

  await sink.drain()
  const whole = await hasher.digest()

  return { size, chunks, ...whole }
}

/** Runs the chunk callback with a bounded number in flight; the first failure stops the pass. */
class ChunkSink {
  private readonly pending = new Map<Promise<void>, number>()
  private failure: unknown

  constructor(
    private readonly onChunk: DigestInit['onChunk'],
    private readonly limit: number,
    private readonly settled: () => void,
  ) {}

  oldestPendingOffset(): number | undefined {
    let oldest: number | undefined

    for (const offset of this.pending.values()) {
      oldest = oldest === undefined ? offset : Math.min(oldest, offset)
    }

    return oldest
  }

  async put(chunk: ChunkData): Promise<void> {
    if (this.onChunk === undefined) {
      return
    }

    this.check()

    const task = Promise.resolve()
      .then(() => this.onChunk?.(chunk))
      .then(() => undefined)
      .catch((err: unknown) => {
        this.failure ??= err
      })
      .finally(() => {
        this.pending.delete(task)
        this.settled()
      })
    this.pending.set(task, chunk.offset)

    while (this.pending.size >= this.limit) {
      await Promise.race(this.pending.keys())
    }

    this.check()
  }

  async drain(): Promise<void> {
    await Promise.all(this.pending.keys())
    this.check()
  }

  private check(): void {
    if (this.failure !== undefined) {
      throw this.failure instanceof Error
        ? this.failure
        : new PressmeshError('CHUNK_SINK_FAILED', String(this.failure))
    }
  }
}
