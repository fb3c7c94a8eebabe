import { SECTOR_BYTES } from './constants.ts'
import { recordDate, writeBoth16, writeBoth32 } from './encoding.ts'
import type { RecordSpec } from './record-specs.ts'
import { inlineSystemUse, type SystemUseSplit, splitSystemUse } from './system-use.ts'

// Directory records (ECMA-119 9.1) and the extents of folders built from them. A record never
// crosses a sector boundary (ECMA-119 6.8.1.1): one that would is moved to the next sector.

/** ECMA-119 9.1: 33 fixed bytes, the identifier, and a pad byte when its length is even. */
export function recordBaseBytes(identifierLength: number): number {
  return 33 + identifierLength + (identifierLength % 2 === 0 ? 1 : 0)
}

export function encodeRecord(spec: RecordSpec, systemUse: Buffer): Buffer {
  const base = recordBaseBytes(spec.identifier.length)
  const length = base + systemUse.length + (systemUse.length % 2)
  const out = Buffer.alloc(length)

  out[0] = length
  writeBoth32(out, 2, spec.location)
  writeBoth32(out, 10, spec.length)
  recordDate(spec.mtime).copy(out, 18)
  out[25] = spec.flags
  writeBoth16(out, 28, 1)
  out[32] = spec.identifier.length
  spec.identifier.copy(out, 33)
  systemUse.copy(out, base)

  return out
}

/** How each record's entries are spread; a continuation piece's place is left for the layout. */
export function splitRecords(specs: readonly RecordSpec[]): SystemUseSplit[] {
  return specs.map((spec) =>
    splitSystemUse(
      recordBaseBytes(spec.identifier.length),
      spec.entries.map((entry) => entry.length),
    ),
  )
}

export function encodeRecords(specs: readonly RecordSpec[], splits?: SystemUseSplit[]): Buffer[] {
  return specs.map((spec, i) => {
    const split = splits?.[i]
    return encodeRecord(
      spec,
      split === undefined ? Buffer.alloc(0) : inlineSystemUse(spec.entries, split),
    )
  })
}

/** Byte offsets of the records in the folder's extent, and the extent's whole-sector size. */
export function placeRecords(lengths: readonly number[]): { offsets: number[]; bytes: number } {
  const offsets: number[] = []
  let at = 0

  for (const length of lengths) {
    const room = SECTOR_BYTES - (at % SECTOR_BYTES)

    if (length > room) {
      at += room
    }

    offsets.push(at)
    at += length
  }

  return { offsets, bytes: Math.max(1, Math.ceil(at / SECTOR_BYTES)) * SECTOR_BYTES }
}

/** The folder's extent, ready to write. */
export function directoryExtent(records: readonly Buffer[]): Buffer {
  const { offsets, bytes } = placeRecords(records.map((record) => record.length))
  const out = Buffer.alloc(bytes)
  for (const [i, record] of records.entries()) {
    record.copy(out, offsets[i])
  }

  return out
}
