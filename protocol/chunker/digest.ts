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
  signal?: AbortSignal
}

const MAX_PENDING_CHUNKS = 4

/**
 * One pass over a stream: content-defined chunks with their BLAKE3 ids, and the whole-stream
 * BLAKE3 and SHA-256, from the same buffers as they arrive.
 */
export async function digestStream(
  source: AsyncIterable<Uint8Array>,
  params: ChunkerParams,
  init: DigestInit = {},
): Promise<StreamDigest> {
  const chunker = new Chunker(params)
  const hasher = init.hasher ?? inlineWholeHasher()
  const sink = new ChunkSink(init.onChunk, init.maxPendingChunks ?? MAX_PENDING_CHUNKS)
  const chunks: ChunkRef[] = []
  let size = 0

  for await (const buf of source) {
    init.signal?.throwIfAborted()

    const hashed = hasher.update(buf)
    for (const chunk of chunker.push(buf)) {
      chunks.push({ id: chunk.id, size: chunk.size })
      await sink.put(chunk)
    }

    await hashed
    size += buf.length
    init.onBytes?.(buf.length)
  }

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
  private readonly pending = new Set<Promise<void>>()
  private failure: unknown

  constructor(
    private readonly onChunk: DigestInit['onChunk'],
    private readonly limit: number,
  ) {}

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
      .finally(() => this.pending.delete(task))
    this.pending.add(task)

    while (this.pending.size >= this.limit) {
      await Promise.race(this.pending)
    }

    this.check()
  }

  async drain(): Promise<void> {
    await Promise.all(this.pending)
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
