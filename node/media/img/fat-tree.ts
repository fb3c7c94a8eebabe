import { InvalidInputError } from '../../../protocol/errors.ts'
import type { Logger } from '../../../protocol/logger.ts'
import type { FileEntry, Manifest } from '../../../protocol/manifest.ts'
import { DIR_ENTRY_BYTES, entryCount, type FatName, nameFolder } from './fat-names.ts'

// The manifest as a FAT tree: folders and files with their short and long names. FAT has no
// symbolic links; they are left out, each with a logged warning.

/** FAT's size field is 32 bits (Microsoft FAT specification, DIR_FileSize). */
export const MAX_FAT_FILE_BYTES = 2 ** 32 - 1

export interface FatNode {
  kind: 'folder' | 'file'
  path: string
  name: string
  mtime: number
  /** Files only. */
  entry?: FileEntry
  children: FatNode[]
  fatName?: FatName
  parent?: FatNode
  /** Set by the layout: first cluster (0 for an empty file) and clusters taken. */
  firstCluster: number
  clusters: number
}

export function fatTree(manifest: Manifest, rootTime: number, log: Logger): FatNode {
  const root = node('folder', '', '', rootTime)
  const folders = new Map<string, FatNode>([['', root]])

  for (const entry of manifest.files) {
    if (entry.type === 'symlink') {
      log.warn({ path: entry.path, target: entry.target }, 'skipping symbolic link, FAT has none')
      continue
    }

    if (entry.type === 'file' && entry.size > MAX_FAT_FILE_BYTES) {
      throw new InvalidInputError(
        'IMG_FILE_TOO_LARGE',
        `"${entry.path}" is ${entry.size} bytes; a FAT file holds at most 4 GiB - 1 byte`,
      )
    }

    const slash = entry.path.lastIndexOf('/')
    const parent = folders.get(slash < 0 ? '' : entry.path.slice(0, slash))!
    const child = node(entry.type === 'file' ? 'file' : 'folder', entry.path, '', entry.mtime)
    child.name = entry.path.slice(slash + 1)
    child.parent = parent
    parent.children.push(child)

    if (entry.type === 'file') {
      child.entry = entry
    } else {
      folders.set(entry.path, child)
    }
  }

  for (const folder of folders.values()) {
    const names = nameFolder(
      folder.children.map((child) => child.name),
      folder.path,
    )
    folder.children.forEach((child, i) => {
      child.fatName = names[i]
    })
  }

  return root
}

/** Bytes of a folder's entries: dot entries (or the label in the root) and each child's. */
export function folderBytes(folder: FatNode, labelled: boolean): number {
  let entries = folder.parent === undefined ? (labelled ? 1 : 0) : 2

  for (const child of folder.children) {
    entries += entryCount(child.fatName!)
  }

  return entries * DIR_ENTRY_BYTES
}

/** Every node, parents before children, in manifest order within the walk. */
export function* walkTree(root: FatNode): Generator<FatNode> {
  yield root

  for (const child of root.children) {
    yield* walkTree(child)
  }
}

function node(kind: FatNode['kind'], path: string, name: string, mtime: number): FatNode {
  return { kind, path, name, mtime, children: [], firstCluster: 0, clusters: 0 }
}
