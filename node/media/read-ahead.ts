import type { ChunkStore } from '../chunk-store/store.ts'
import { IntegrityError } from '../../protocol/errors.ts'
import type { FileEntry } from '../../protocol/manifest.ts'
import { markUnchanging } from './digest-tap.ts'
import type { ContentSource } from './medium.ts'

// The chunk store as a ContentSource that keeps several chunk reads in flight ahead of the
// writer, so that reading chunk files overlaps building, hashing and writing the image. Reads
// go into fresh shared memory that nothing writes again, which the media hashing worker takes
// without a copy and without holding up the writer (see markUnchanging). Memory stays
// bounded: at most `depth` chunks and about `aheadBytes` bytes are held ahead (always at least
// one chunk, however large).

export const DEFAULT_READ_AHEAD = 8
export const DEFAULT_READ_AHEAD_BYTES = 16 * 1024 * 1024

export interface ReadAheadOptions {
  /** Chunk reads in flight ahead of the consumer, at most. */
  depth?: number
  /** Bytes of chunk reads in flight ahead of the consumer, about. */
  aheadBytes?: number
}

export function readAheadSource(store: ChunkStore, options: ReadAheadOptions = {}): ContentSource {
  const limits = {
    depth: Math.max(1, options.depth ?? DEFAULT_READ_AHEAD),
    aheadBytes: options.aheadBytes ?? DEFAULT_READ_AHEAD_BYTES,
  }

  return { read: (entry, signal) => readAhead(store, entry, limits, signal) }
}

async function* readAhead(
  store: ChunkStore,
  entry: FileEntry,
  limits: Required<ReadAheadOptions>,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  const pending: Array<{ read: Promise<Buffer>; size: number }> = []
  let pendingBytes = 0
  let next = 0

  try {
    while (next < entry.chunks.length || pending.length > 0) {
      while (next < entry.chunks.length && hasRoom(pending.length, pendingBytes, limits)) {
        const size = entry.chunks[next].size
        pending.push({ read: readChunk(store, entry, next++), size })
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

function hasRoom(count: number, bytes: number, limits: Required<ReadAheadOptions>): boolean {
  return count === 0 || (count < limits.depth && bytes < limits.aheadBytes)
}

async function readChunk(store: ChunkStore, entry: FileEntry, index: number): Promise<Buffer> {
  const chunk = entry.chunks[index]
  const bytes = await store.get(chunk.id, { allocate: sharedBuffer })

  if (bytes.length !== chunk.size) {
    throw new IntegrityError(
      'STORE_CHUNK_SIZE',
      `chunk ${chunk.id} of "${entry.path}" is ${bytes.length} bytes, ` +
        `the manifest says ${chunk.size}`,
    )
  }

  markUnchanging(bytes)
  return bytes
}

/**
 * A fresh buffer for each chunk: the consumer may keep what it is given (an output batch, a
 * write in flight), so memory is never handed out twice.
 */
function sharedBuffer(size: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(size)) as unknown as Buffer
}
