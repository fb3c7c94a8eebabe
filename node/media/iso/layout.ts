import { InvalidInputError } from '../../../protocol/errors.ts'
import { comparePaths, type FileEntry, type Manifest } from '../../../protocol/manifest.ts'
import type { MediumMeta } from '../medium.ts'
import { MAX_VOLUME_SECTORS, SECTOR_BYTES, SYSTEM_AREA_SECTORS } from './constants.ts'
import { encodeRecords, placeRecords, splitRecords } from './directory-records.ts'
import { sectorsFor } from './encoding.ts'
import { extentOrder, type IsoDirectory } from './iso-tree.ts'
import { jolietHierarchy } from './joliet-tree.ts'
import { pathTableBytes } from './path-tables.ts'
import { primaryHierarchy } from './primary-tree.ts'
import { type ExtentLookup, jolietRecordSpecs, primaryRecordSpecs } from './record-specs.ts'
import { ContinuationAllocator } from './system-use.ts'
import { buildTree } from './tree.ts'

// The whole image is laid out before a byte is written; every size is known from the manifest.
// In order: the system area, the primary, Joliet and terminating volume descriptors, the four
// path tables, the primary folders (in extentOrder) each followed by the continuation area of
// its records, the Joliet folders, the file data in manifest order, and one zero sector that
// empty files and links point at. Every pointer (folder to child, CE to its area) points
// forward, and a folder's continuation area comes right after it: libarchive reads the image
// front to back and reads a continuation area only when it has just read the folder that
// points at it, before it reads (and names) any subfolder.

export interface PathTablePlace {
  bytes: number
  lLocation: number
  mLocation: number
}

export interface IsoLayout {
  meta: MediumMeta
  volumeId: string
  volumeSectors: number
  /** Primary folders in path table order. */
  primary: IsoDirectory[]
  /** Primary folders in the order their extents (and continuation pieces) are written. */
  primaryExtents: IsoDirectory[]
  joliet: IsoDirectory[]
  primaryTables: PathTablePlace
  jolietTables: PathTablePlace
  /** Files with data, in the order their data is written. */
  files: Array<{ entry: FileEntry; location: number }>
  extents: ExtentLookup
}

/** Sectors before the path tables: system area and three volume descriptors (ECMA-119 6.2, 8). */
export const DESCRIPTOR_END = SYSTEM_AREA_SECTORS + 3

export function layoutIso(manifest: Manifest, meta: MediumMeta, volumeId: string): IsoLayout {
  const tree = buildTree(manifest.files, meta.date)
  const primary = primaryHierarchy(tree)
  const joliet = jolietHierarchy(tree)
  const locations = new Map<FileEntry, number>()
  const extents: ExtentLookup = { fileLocation: (entry) => locations.get(entry)!, emptyLocation: 0 }

  sizePrimary(primary, extents)
  sizeJoliet(joliet, extents)

  let cursor = DESCRIPTOR_END
  const place = (sectors: number) => {
    const at = cursor
    cursor += sectors
    return at
  }

  const primaryTables = placeTables(pathTableBytes(primary), place)
  const jolietTables = placeTables(pathTableBytes(joliet), place)

  const primaryExtents = extentOrder(primary)
  for (const dir of primaryExtents) {
    dir.location = place(dir.bytes / SECTOR_BYTES)
    dir.continuationSectors = placeContinuations(dir, cursor)
    place(dir.continuationSectors)
  }

  for (const dir of joliet) {
    dir.location = place(dir.bytes / SECTOR_BYTES)
  }

  const files = dataFiles(manifest).map((entry) => ({
    entry,
    location: place(sectorsFor(entry.size)),
  }))
  for (const file of files) {
    locations.set(file.entry, file.location)
  }

  extents.emptyLocation = place(1)
  checkVolumeSize(cursor)

  return {
    meta,
    volumeId,
    volumeSectors: cursor,
    primary,
    primaryExtents,
    joliet,
    primaryTables,
    jolietTables,
    files,
    extents,
  }
}

function sizePrimary(dirs: IsoDirectory[], extents: ExtentLookup): void {
  for (const dir of dirs) {
    const specs = primaryRecordSpecs(dir, extents)
    dir.splits = splitRecords(specs)
    const records = encodeRecords(specs, dir.splits)
    dir.bytes = placeRecords(records.map((record) => record.length)).bytes
  }
}

function sizeJoliet(dirs: IsoDirectory[], extents: ExtentLookup): void {
  for (const dir of dirs) {
    const records = encodeRecords(jolietRecordSpecs(dir, extents))
    dir.bytes = placeRecords(records.map((record) => record.length)).bytes
  }
}

function placeTables(bytes: number, place: (sectors: number) => number): PathTablePlace {
  const sectors = sectorsFor(bytes)
  return { bytes, lLocation: place(sectors), mLocation: place(sectors) }
}

/** Places a folder's continuation pieces in record order, the order they are written in. */
function placeContinuations(dir: IsoDirectory, start: number): number {
  const allocator = new ContinuationAllocator(start)

  for (const split of dir.splits) {
    for (const piece of split.pieces) {
      allocator.place(piece)
    }
  }

  return allocator.sectors()
}

function dataFiles(manifest: Manifest): FileEntry[] {
  return manifest.files
    .filter((entry): entry is FileEntry => entry.type === 'file' && entry.size > 0)
    .sort((a, b) => comparePaths(a.path, b.path))
}

function checkVolumeSize(sectors: number): void {
  if (sectors > MAX_VOLUME_SECTORS) {
    throw new InvalidInputError(
      'ISO_TOO_LARGE',
      `the image would take ${sectors} sectors; ISO 9660 addresses at most ${MAX_VOLUME_SECTORS} ` +
        `(8 TiB): choose a disc size to split it into a set`,
    )
  }
}
