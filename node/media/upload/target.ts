import type { HashWorker } from '../../../protocol/chunker/whole-hash.ts'
import type { FileDigest } from '../digest-tap.ts'
import type { MediumFile } from '../medium.ts'

// Where media go: the media file server, reached as a local folder (the default) or over
// HTTP PUT / WebDAV. A target stores each file complete and checked under its final name, or
// leaves nothing under that name; it hashes the bytes on the way, so the caller gets the sums
// without a second read.

export interface StoreOptions {
  signal?: AbortSignal
  /** Called with each piece's length as it is sent (for progress; restarts on a retry). */
  onBytes?: (count: number) => void
  /** Hash on this worker's thread instead of inline. */
  hashWorker?: HashWorker
}

export interface MediaTarget {
  /** Where files go, for messages and logs. */
  readonly location: string
  store(file: MediumFile, options?: StoreOptions): Promise<FileDigest>
}

/** A small file held in memory, e.g. a sums file. */
export function memoryFile(name: string, bytes: Uint8Array): MediumFile {
  return {
    name,
    size: bytes.length,
    async *bytes() {
      yield bytes
    },
  }
}
