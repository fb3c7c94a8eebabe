import type { ChunkStore } from '../chunk-store/store.ts'
import { IntegrityError } from '../../protocol/errors.ts'
import type { FileEntry } from '../../protocol/manifest.ts'
import { BufferPool } from './buffer-pool.ts'
import type { ContentSource } from './medium.ts'

// The chunk store as a ContentSource that keeps several chunk reads in flight ahead of the
// writer, so that reading chunk files overlaps building, hashing and writing the image. Reads
// go into pooled shared memory (buffer-pool.ts): each chunk it yields carries one reference,
// which passes on with the chunk, and its memory is used for another chunk only once every
// holder has released it. The media hashing worker takes such memory without a copy and
// without holding up the writer; a consumer that never releases simply gets no reuse. Memory
// stays bounded: at most `depth` chunks and about `aheadBytes` bytes are held ahead (always at
// least one chunk, however large), and the pool keeps a bounded number of free buffers.

export const DEFAULT_READ_AHEAD = 8
export const DEFAULT_READ_AHEAD_BYTES = 16 * 1024 * 1024

export interface ReadAheadOptions {
  /** Chunk reads in flight ahead of the consumer, at most. */
  depth?: number
  /** Bytes of chunk reads in flight ahead of the consumer, about. */
  aheadBytes?: number
  /** Where chunk reads go (default: a pool of this source's own). */
  pool?: BufferPool
}

interface Limits {
  depth: number
  aheadBytes: number
}

export function readAheadSource(store: ChunkStore, options: ReadAheadOptions = {}): ContentSource {
  const limits = {
    depth: Math.max(1, options.depth ?? DEFAULT_READ_AHEAD),
    aheadBytes: options.aheadBytes ?? DEFAULT_READ_AHEAD_BYTES,
  }
  const pool = options.pool ?? new BufferPool()

  return { read: (entry, signal) => readAhead(store, pool, entry, limits, signal) }
}

async function* readAhead(
  store: ChunkStore,
  pool: BufferPool,
  entry: FileEntry,
  limits: Limits,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  const pending: Array<{ read: Promise<Buffer>; size: number }> = []
  let pendingBytes = 0
  let next = 0

  try {
    while (next < entry.chunks.length || pending.length > 0) {
      while (next < entry.chunks.length && hasRoom(pending.length, pendingBytes, limits)) {
        const size = entry.chunks[next].size
        pending.push({ read: readChunk(store, pool, entry, next++), size })
        pendingBytes += size
      }

      signal?.throwIfAborted()
      const first = pending.shift()!
      pendingBytes -= first.size
      yield await first.read
    }
  } finally {
    // A consumer that stops early must not leave rejections unobserved.
    for (const { read } of pending) {
      read.catch(() => undefined)
    }
  }
}

function hasRoom(count: number, bytes: number, limits: Limits): boolean {
  return count === 0 || (count < limits.depth && bytes < limits.aheadBytes)
}

async function readChunk(
  store: ChunkStore,
  pool: BufferPool,
  entry: FileEntry,
  index: number,
): Promise<Buffer> {
  const chunk = entry.chunks[index]
  const bytes = await store.get(chunk.id, { allocate: (size) => pool.acquire(size) })

  if (bytes.length !== chunk.size) {
    throw new IntegrityError(
      'STORE_CHUNK_SIZE',
      `chunk ${chunk.id} of "${entry.path}" is ${bytes.length} bytes, ` +
        `the manifest says ${chunk.size}`,
    )
  }

  return bytes
}
