import type { ChunkStore } from '../chunk-store/store.ts'
import { IntegrityError } from '../../protocol/errors.ts'
import type { FileEntry } from '../../protocol/manifest.ts'
import type { ContentSource } from './medium.ts'

// The chunk store as a ContentSource that keeps a few chunk reads in flight ahead of the
// writer, so that reading chunk files overlaps building and writing the image. Memory stays
// bounded by `depth` chunks (4 MiB each at most with the default chunker).

export const DEFAULT_READ_AHEAD = 4

export function readAheadSource(store: ChunkStore, depth = DEFAULT_READ_AHEAD): ContentSource {
  return { read: (entry, signal) => readAhead(store, entry, depth, signal) }
}

async function* readAhead(
  store: ChunkStore,
  entry: FileEntry,
  depth: number,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  const pending: Promise<Buffer>[] = []
  let next = 0

  try {
    while (next < entry.chunks.length || pending.length > 0) {
      while (next < entry.chunks.length && pending.length < depth) {
        pending.push(readChunk(store, entry, next++))
      }

      signal?.throwIfAborted()
      yield await pending.shift()!
    }
  } finally {
    // A consumer that stops early must not leave rejections unobserved.
    for (const read of pending) {
      read.catch(() => undefined)
    }
  }
}

async function readChunk(store: ChunkStore, entry: FileEntry, index: number): Promise<Buffer> {
  const chunk = entry.chunks[index]
  const bytes = await store.get(chunk.id)

  if (bytes.length !== chunk.size) {
    throw new IntegrityError(
      'STORE_CHUNK_SIZE',
      `chunk ${chunk.id} of "${entry.path}" is ${bytes.length} bytes, ` +
        `the manifest says ${chunk.size}`,
    )
  }

  return bytes
}
