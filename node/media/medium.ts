import type { FileEntry, Manifest } from '../../protocol/manifest.ts'
import { readStoredFile } from '../chunk-store/reassemble.ts'
import type { ChunkStore } from '../chunk-store/store.ts'

// The shape every medium writer (tar, iso, img) shares. A writer first lays the whole image out
// from the manifest (every size is known there), then produces its bytes strictly in order,
// reading file contents from a ContentSource (the chunk store) as it goes: no seeks, no temporary
// copy. Writing a medium to a folder or a media server, hashing it and signing the sums is done
// once, for every kind, by the code that consumes a Medium.

export type MediumKind = 'tar' | 'iso' | 'img'

/**
 * File contents, streamed; the chunk store in production, anything in tests. A source may yield
 * pooled memory (buffer-pool.ts): a writer passes such a piece on with its reference, or
 * releases it once copied, and the consumer of the medium's bytes releases what it is given
 * once done with it (the media targets do), or never, which only forgoes the reuse.
 */
export interface ContentSource {
  read(entry: FileEntry, signal?: AbortSignal): AsyncIterable<Uint8Array>
}

/** What the job says about the release; images record these instead of the clock. */
export interface MediumMeta {
  /** Volume or archive label, e.g. `PRODUCT_1_0`; writers shorten it to what a format allows. */
  volumeId: string
  publisher?: string
  application?: string
  /** Seconds since the Unix epoch: every time an image records that the manifest does not give. */
  date: number
}

/** One output file of a medium. */
export interface MediumFile {
  /** File name in the output folder, e.g. `product-1.0.iso` or `product-1.0-disc2.iso`. */
  name: string
  /** Exact size in bytes when the layout fixes it (not for gzip). */
  size?: number
  /** The file's bytes, in order. Each call starts again from the beginning. */
  bytes(signal?: AbortSignal): AsyncIterable<Uint8Array>
}

/** A medium: usually one image; a disc set is several images plus a set index. */
export interface Medium {
  kind: MediumKind
  files: MediumFile[]
}

export interface MediumInput {
  manifest: Manifest
  source: ContentSource
  meta: MediumMeta
}

export function storeSource(store: ChunkStore): ContentSource {
  return { read: (entry, signal) => readStoredFile(store, entry, signal) }
}
