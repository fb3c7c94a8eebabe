import type { FileEntry } from '../../../protocol/manifest.ts'
import { MAX_EXTENT_BYTES, SECTOR_BYTES } from './constants.ts'
import type { IsoChild, IsoDirectory } from './iso-tree.ts'
import {
  clEntry,
  erEntry,
  nmEntries,
  plEntry,
  POSIX_TYPE,
  pxEntry,
  reEntry,
  slEntries,
  spEntry,
  tfEntry,
} from './rock-ridge.ts'
import { linkCount, type TreeNode } from './tree.ts'

// What each directory record of a folder says, in record order: ".", "..", then the children
// sorted by identifier, a file of 4 GiB or more taking one record per extent (ECMA-119 6.5.1,
// the multi-extent flag on all but the last). The layout calls this once to size the folder and
// the writer once more to write it, with every location filled in; both get the same lengths.

export interface RecordSpec {
  identifier: Buffer
  /** ECMA-119 9.1.6: bit 1 directory, bit 7 multi-extent. */
  flags: number
  location: number
  length: number
  mtime: number
  /** SUSP entries (primary hierarchy only). */
  entries: Buffer[]
}

export interface ExtentLookup {
  /** First sector of a file's data. */
  fileLocation(entry: FileEntry): number
  /** The sector every empty file, link and placeholder points at. */
  emptyLocation: number
}

const DIRECTORY = 0x02
const MULTI_EXTENT = 0x80

export function primaryRecordSpecs(dir: IsoDirectory, extents: ExtentLookup): RecordSpec[] {
  const isRoot = dir.parent === dir
  const self = selfSpec(dir, [0])
  self.entries = [
    ...(isRoot ? [spEntry()] : []),
    ...folderEntries(dir.node),
    ...(isRoot ? [erEntry()] : []),
  ]

  const parent = selfSpec(dir.parent, [1])
  const real = dir.realParent
  parent.entries = [
    ...folderEntries((real ?? dir.parent).node),
    ...(real !== undefined ? [plEntry(real.location)] : []),
  ]

  const specs = [self, parent]
  for (const child of dir.children) {
    specs.push(...primaryChildSpecs(child, extents))
  }

  return specs
}

export function jolietRecordSpecs(dir: IsoDirectory, extents: ExtentLookup): RecordSpec[] {
  const specs = [selfSpec(dir, [0]), selfSpec(dir.parent, [1])]

  for (const child of dir.children) {
    specs.push(...childSpecs(child, extents))
  }

  return specs
}

function selfSpec(dir: IsoDirectory, identifier: number[]): RecordSpec {
  return {
    identifier: Buffer.from(identifier),
    flags: DIRECTORY,
    location: dir.location,
    length: dir.bytes,
    mtime: dir.node.entry.mtime,
    entries: [],
  }
}

function folderEntries(node: TreeNode): Buffer[] {
  return [
    pxEntry(POSIX_TYPE.directory | node.entry.mode, linkCount(node)),
    tfEntry(node.entry.mtime),
  ]
}

function primaryChildSpecs(child: IsoChild, extents: ExtentLookup): RecordSpec[] {
  const { node } = child
  const type = child.role === 'file' ? 'file' : child.role === 'symlink' ? 'symlink' : 'directory'
  // RE and CL come before the name so that they always stay in the record itself: libarchive
  // decides what a record is (relocated, placeholder) before it reads any continuation area.
  const entries = [
    pxEntry(POSIX_TYPE[type] | node.entry.mode, linkCount(node)),
    tfEntry(node.entry.mtime),
    ...(child.relocated ? [reEntry()] : []),
    ...(child.role === 'placeholder' ? [clEntry(child.directory!.location)] : []),
    ...nmEntries(node.name),
    ...(node.entry.type === 'symlink' ? slEntries(node.entry.target) : []),
  ]

  return childSpecs(child, extents).map((spec) => ({ ...spec, entries }))
}

function childSpecs(child: IsoChild, extents: ExtentLookup): RecordSpec[] {
  const { node, identifier } = child
  const base = { identifier, mtime: node.entry.mtime, entries: [] }

  if (child.role === 'directory') {
    const dir = child.directory!
    return [{ ...base, flags: DIRECTORY, location: dir.location, length: dir.bytes }]
  }

  if (node.entry.type !== 'file' || node.entry.size === 0) {
    return [{ ...base, flags: 0, location: extents.emptyLocation, length: 0 }]
  }

  return fileSections(node.entry.size).map((section, i, all) => ({
    ...base,
    flags: i < all.length - 1 ? MULTI_EXTENT : 0,
    location: extents.fileLocation(node.entry as FileEntry) + section.sectorOffset,
    length: section.length,
  }))
}

/** ECMA-119 6.5.1: a file is recorded in extents of at most MAX_EXTENT_BYTES, back to back. */
export function fileSections(size: number): Array<{ sectorOffset: number; length: number }> {
  const sections = []

  for (let start = 0; start < size; start += MAX_EXTENT_BYTES) {
    const length = Math.min(MAX_EXTENT_BYTES, size - start)
    sections.push({ sectorOffset: start / SECTOR_BYTES, length })
  }

  return sections
}
