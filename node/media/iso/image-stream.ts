import { IntegrityError, PressmeshError } from '../../../protocol/errors.ts'
import type { FileEntry } from '../../../protocol/manifest.ts'
import type { ContentSource } from '../medium.ts'
import { SECTOR_BYTES, SYSTEM_AREA_SECTORS } from './constants.ts'
import { directoryExtent, encodeRecord, encodeRecords } from './directory-records.ts'
import type { IsoDirectory } from './iso-tree.ts'
import type { IsoLayout, PathTablePlace } from './layout.ts'
import { pathTable } from './path-tables.ts'
import { OutputBatcher } from './output-batcher.ts'
import { readAhead } from './read-ahead.ts'
import { jolietRecordSpecs, primaryRecordSpecs, type RecordSpec } from './record-specs.ts'
import { continuationBytes } from './system-use.ts'
import { terminatorDescriptor, volumeDescriptor } from './volume-descriptors.ts'

// Writes a laid-out image strictly in order. Metadata is built one folder at a time; file data
// streams chunk by chunk from the source, so memory stays at a batch and a chunk.

/** Chunks asked for ahead of the consumer: enough to overlap one read with one write. */
const READ_AHEAD_CHUNKS = 2

export async function* isoBytes(
  layout: IsoLayout,
  source: ContentSource,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const out = new OutputBatcher()
  let written = 0
  const count = function* (pieces: Generator<Uint8Array>) {
    for (const piece of pieces) {
      written += piece.length
      yield piece
    }
  }

  yield* count(out.zeros(SYSTEM_AREA_SECTORS * SECTOR_BYTES))
  for (const sector of metadataSectors(layout)) {
    yield* count(out.push(sector))
  }

  for await (const piece of readAhead(fileData(layout, source, signal), READ_AHEAD_CHUNKS)) {
    yield* count(typeof piece === 'number' ? out.zeros(piece) : out.push(piece))
  }

  yield* count(out.zeros(SECTOR_BYTES))
  yield* count(out.flush())

  if (written !== layout.volumeSectors * SECTOR_BYTES) {
    throw new PressmeshError(
      'ISO_LAYOUT_MISMATCH',
      `wrote ${written} bytes but laid out ${layout.volumeSectors * SECTOR_BYTES}`,
    )
  }
}

/** Descriptors, path tables, folders and continuation areas, each padded to whole sectors. */
function* metadataSectors(layout: IsoLayout): Generator<Buffer> {
  const { primary, joliet, extents } = layout
  const descriptor = {
    meta: layout.meta,
    volumeId: layout.volumeId,
    volumeSectors: layout.volumeSectors,
  }

  yield volumeDescriptor(descriptor, hierarchyPlace(primary, layout.primaryTables), false)
  yield volumeDescriptor(descriptor, hierarchyPlace(joliet, layout.jolietTables), true)
  yield terminatorDescriptor()
  yield* tables(primary)
  yield* tables(joliet)

  for (const dir of layout.primaryExtents) {
    const specs = primaryRecordSpecs(dir, extents)
    yield directoryExtent(encodeRecords(specs, dir.splits))
    yield* continuationArea(dir, specs)
  }

  for (const dir of joliet) {
    yield directoryExtent(encodeRecords(jolietRecordSpecs(dir, extents)))
  }
}

function hierarchyPlace(dirs: IsoDirectory[], tables: PathTablePlace) {
  const root = dirs[0]
  const spec = { identifier: Buffer.from([0]), flags: 0x02, location: root.location }
  const rootRecord = encodeRecord(
    { ...spec, length: root.bytes, mtime: root.node.entry.mtime, entries: [] },
    Buffer.alloc(0),
  )

  return {
    pathTableBytes: tables.bytes,
    lTableLocation: tables.lLocation,
    mTableLocation: tables.mLocation,
    rootRecord,
  }
}

function* tables(dirs: IsoDirectory[]): Generator<Buffer> {
  for (const bigEndian of [false, true]) {
    const table = pathTable(dirs, bigEndian)
    yield Buffer.concat([table, Buffer.alloc(padding(table.length))])
  }
}

/** SUSP 5.1: the folder's continuation area, its pieces where the layout placed them. */
function* continuationArea(dir: IsoDirectory, specs: RecordSpec[]): Generator<Buffer> {
  if (dir.continuationSectors === 0) {
    return
  }

  const start = dir.location + dir.bytes / SECTOR_BYTES
  const area = Buffer.alloc(dir.continuationSectors * SECTOR_BYTES)

  for (const [i, split] of dir.splits.entries()) {
    for (const [k, bytes] of continuationBytes(specs[i].entries, split).entries()) {
      const piece = split.pieces[k]
      bytes.copy(area, (piece.location - start) * SECTOR_BYTES + piece.offset)
    }
  }

  yield area
}

async function* fileData(layout: IsoLayout, source: ContentSource, signal?: AbortSignal) {
  for (const file of layout.files) {
    signal?.throwIfAborted()
    yield* fileBytes(file.entry, source, signal)
    yield padding(file.entry.size)
  }
}

async function* fileBytes(entry: FileEntry, source: ContentSource, signal?: AbortSignal) {
  let seen = 0

  for await (const chunk of source.read(entry, signal)) {
    seen += chunk.length

    if (seen > entry.size) {
      break
    }

    yield chunk
  }

  if (seen !== entry.size) {
    throw new IntegrityError(
      'ISO_SOURCE_SIZE',
      `the source gave ${seen > entry.size ? 'more' : 'fewer'} bytes for "${entry.path}" than ` +
        `the manifest's ${entry.size}`,
    )
  }
}

function padding(bytes: number): number {
  return (SECTOR_BYTES - (bytes % SECTOR_BYTES)) % SECTOR_BYTES
}
