import type { ManifestEntry } from '../../../protocol/manifest.ts'
import { MAX_EXTENT_BYTES, MAX_RECORD_BYTES, SECTOR_BYTES } from './constants.ts'
import { sectorsFor } from './encoding.ts'
import { DESCRIPTOR_END } from './layout.ts'

// An upper bound on the sectors an image takes, kept up to date as entries are added, so the
// disc-set planner can try an entry on a disc without laying the disc out. Every term bounds
// what layout.ts does: records cannot straddle sectors, so a folder's extent wastes less than
// one record per sector; continuation pieces waste at most half of an area, and each folder's
// area may end in a partial sector; the relocation directory and a placeholder record per
// folder are counted as if every folder needed them.

/** Joliet records: 33 bytes, a 64-character UCS-2 name, a pad byte (rounded up to even). */
const JOLIET_RECORD_BYTES = 164
const PATH_RECORD_BYTES = { primary: 8 + 8 + 1, joliet: 8 + 128 }
/** Rock Ridge entries that always fit in the record; longer ones may spill into continuations. */
const INLINE_RR_BYTES = 90
const CONTINUATION_OVERHEAD_BYTES = 160

export class DiscBudget {
  private dataSectors = 0
  // The root's "." and "..", and the relocation directory's record, "." and "..".
  private primaryBytes = 5 * MAX_RECORD_BYTES
  private jolietBytes = 2 * JOLIET_RECORD_BYTES
  private continuationBytes = 2 * CONTINUATION_OVERHEAD_BYTES
  private folders = 2
  private primaryTable = 2 * PATH_RECORD_BYTES.primary
  private jolietTable = PATH_RECORD_BYTES.joliet

  /** The bound on the image's sectors. */
  sectors(): number {
    const tables = 2 * sectorsFor(this.primaryTable) + 2 * sectorsFor(this.jolietTable)
    const primary = Math.ceil(this.primaryBytes / (SECTOR_BYTES - MAX_RECORD_BYTES)) + this.folders
    const joliet = Math.ceil(this.jolietBytes / (SECTOR_BYTES - JOLIET_RECORD_BYTES)) + this.folders
    const continuation = Math.ceil((2 * this.continuationBytes) / SECTOR_BYTES) + this.folders
    return DESCRIPTOR_END + tables + primary + joliet + continuation + this.dataSectors + 1
  }

  add(entry: ManifestEntry): void {
    const sections =
      entry.type === 'file' ? Math.max(1, Math.ceil(entry.size / MAX_EXTENT_BYTES)) : 1
    const name = Buffer.byteLength(entry.path.slice(entry.path.lastIndexOf('/') + 1))
    const target = entry.type === 'symlink' ? Buffer.byteLength(entry.target) : 0
    const rockRidge = name + 3 * target

    this.primaryBytes += sections * MAX_RECORD_BYTES
    this.jolietBytes += sections * JOLIET_RECORD_BYTES

    if (rockRidge > INLINE_RR_BYTES) {
      this.continuationBytes += sections * (rockRidge + CONTINUATION_OVERHEAD_BYTES)
    }

    if (entry.type === 'file') {
      this.dataSectors += sectorsFor(entry.size)
    }

    if (entry.type === 'directory') {
      this.folders++
      this.primaryBytes += 3 * MAX_RECORD_BYTES
      this.jolietBytes += 2 * JOLIET_RECORD_BYTES
      this.primaryTable += PATH_RECORD_BYTES.primary
      this.jolietTable += PATH_RECORD_BYTES.joliet
    }
  }

  /** A copy, to try an addition without committing to it. */
  clone(): DiscBudget {
    return Object.assign(new DiscBudget(), this)
  }
}
