import { MAX_RECORD_BYTES, SECTOR_BYTES } from './constants.ts'
import { CE_BYTES, ceEntry } from './rock-ridge.ts'

// Spreads a record's SUSP entries over its system use field and, when they do not fit there,
// over continuation areas (SUSP 5.1). A continuation area never crosses a sector boundary here,
// so a longer tail is chained through further CE entries, one area per piece.

/** Where one piece of a record's continuation lies, and how many entries it carries. */
export interface ContinuationPiece {
  count: number
  bytes: number
  location: number
  offset: number
}

export interface SystemUseSplit {
  /** Entries recorded in the directory record itself. */
  inline: number
  /** Continuation pieces in order; empty when everything fits in the record. */
  pieces: ContinuationPiece[]
}

const sum = (lengths: readonly number[], from = 0) =>
  lengths.slice(from).reduce((total, length) => total + length, 0)

/** Decides the split from the entry lengths alone; locations are filled in by the layout. */
export function splitSystemUse(baseBytes: number, lengths: readonly number[]): SystemUseSplit {
  const room = MAX_RECORD_BYTES - baseBytes

  if (sum(lengths) <= room) {
    return { inline: lengths.length, pieces: [] }
  }

  let inline = 0
  let used = 0
  while (inline < lengths.length && used + lengths[inline] + CE_BYTES <= room) {
    used += lengths[inline++]
  }

  return { inline, pieces: continuationPieces(lengths, inline) }
}

function continuationPieces(lengths: readonly number[], from: number): ContinuationPiece[] {
  const pieces: ContinuationPiece[] = []
  let i = from

  while (i < lengths.length) {
    let bytes = 0
    let count = 0

    while (i < lengths.length) {
      if (bytes + sum(lengths, i) <= SECTOR_BYTES) {
        bytes += sum(lengths, i)
        count += lengths.length - i
        i = lengths.length
      } else if (bytes + lengths[i] + CE_BYTES <= SECTOR_BYTES) {
        bytes += lengths[i++]
        count++
      } else {
        break
      }
    }

    pieces.push({
      count,
      bytes: i < lengths.length ? bytes + CE_BYTES : bytes,
      location: 0,
      offset: 0,
    })
  }

  return pieces
}

/** The bytes of the system use field: the inline entries, then a CE to the first piece. */
export function inlineSystemUse(entries: readonly Buffer[], split: SystemUseSplit): Buffer {
  const inline = entries.slice(0, split.inline)
  const first = split.pieces[0]

  if (first !== undefined) {
    inline.push(ceEntry(first.location, first.offset, first.bytes))
  }

  return Buffer.concat(inline)
}

/** The bytes of each continuation piece, each ending in a CE to the next where one follows. */
export function continuationBytes(entries: readonly Buffer[], split: SystemUseSplit): Buffer[] {
  let start = split.inline

  return split.pieces.map((piece, i) => {
    const parts = entries.slice(start, start + piece.count)
    const next = split.pieces[i + 1]
    start += piece.count

    if (next !== undefined) {
      parts.push(ceEntry(next.location, next.offset, next.bytes))
    }

    return Buffer.concat(parts)
  })
}

/** Places continuation pieces one after another, moving to a new sector when one would cross. */
export class ContinuationAllocator {
  private sector = 0
  private offset = 0
  private used = false

  constructor(private readonly start: number) {}

  place(piece: ContinuationPiece): void {
    if (this.offset + piece.bytes > SECTOR_BYTES) {
      this.sector++
      this.offset = 0
    }

    piece.location = this.start + this.sector
    piece.offset = this.offset
    this.offset += piece.bytes
    this.used = true
  }

  /** Sectors the continuation area takes in all. */
  sectors(): number {
    return this.used ? this.sector + 1 : 0
  }
}
