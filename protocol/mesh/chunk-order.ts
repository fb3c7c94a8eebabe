import type { ContentId } from '../hash.ts'
import { type Manifest, uniqueChunks } from '../manifest.ts'

/** Distinct chunks of a manifest in order of first appearance: the index space of bitfields. */
export interface ChunkOrder {
  ids: ContentId[]
  sizes: number[]
  index: Map<ContentId, number>
}

export function chunkOrder(manifest: Manifest): ChunkOrder {
  const ids: ContentId[] = []
  const sizes: number[] = []
  const index = new Map<ContentId, number>()

  for (const [id, size] of uniqueChunks(manifest)) {
    index.set(id, ids.length)
    ids.push(id)
    sizes.push(size)
  }

  return { ids, sizes, index }
}
