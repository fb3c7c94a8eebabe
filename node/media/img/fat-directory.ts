import { DIR_ENTRY_BYTES } from './fat-names.ts'
import { fatStamp } from './fat-time.ts'
import type { FatNode } from './fat-tree.ts'

// A folder's entries as they sit in its clusters (Microsoft FAT specification, "Directory
// Structure"): "." and ".." first (".." is 0 when the parent is the root), then for each child
// its long-name entries and its short entry; the rest of the last cluster stays zero, which
// marks the end of the folder.

const ATTR_VOLUME_ID = 0x08
const ATTR_DIRECTORY = 0x10
const ATTR_ARCHIVE = 0x20
const DOT = Buffer.from('.          ', 'ascii')
const DOT_DOT = Buffer.from('..         ', 'ascii')

export function folderEntries(folder: FatNode, label?: Buffer, labelTime = 0): Buffer {
  const parts: Buffer[] = []

  if (folder.parent === undefined) {
    if (label !== undefined) {
      parts.push(shortEntry(label, ATTR_VOLUME_ID, 0, 0, labelTime))
    }
  } else {
    const parentCluster = folder.parent.parent === undefined ? 0 : folder.parent.firstCluster
    parts.push(shortEntry(DOT, ATTR_DIRECTORY, folder.firstCluster, 0, folder.mtime))
    parts.push(shortEntry(DOT_DOT, ATTR_DIRECTORY, parentCluster, 0, folder.mtime))
  }

  for (const child of folder.children) {
    const name = child.fatName!
    const attr = child.kind === 'folder' ? ATTR_DIRECTORY : ATTR_ARCHIVE
    const size = child.kind === 'file' ? child.entry!.size : 0
    parts.push(...name.long, shortEntry(name.short, attr, child.firstCluster, size, child.mtime))
  }

  return Buffer.concat(parts)
}

function shortEntry(name: Buffer, attr: number, cluster: number, size: number, mtime: number) {
  const entry = Buffer.alloc(DIR_ENTRY_BYTES)
  const stamp = fatStamp(mtime)

  name.copy(entry, 0, 0, 11)
  entry[11] = attr
  entry.writeUInt16LE(stamp.time, 14)
  entry.writeUInt16LE(stamp.date, 16)
  entry.writeUInt16LE(stamp.date, 18)
  entry.writeUInt16LE(cluster >>> 16, 20)
  entry.writeUInt16LE(stamp.time, 22)
  entry.writeUInt16LE(stamp.date, 24)
  entry.writeUInt16LE(cluster & 0xffff, 26)
  entry.writeUInt32LE(size, 28)
  return entry
}
