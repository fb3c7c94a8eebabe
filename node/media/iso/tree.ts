import type { DirectoryEntry, ManifestEntry } from '../../../protocol/manifest.ts'
import { comparePaths } from '../../../protocol/manifest.ts'

// The master as a tree of real names, built once from the manifest; the primary (ISO 9660 with
// Rock Ridge) and Joliet trees are both views of it.

export interface TreeNode {
  /** The real name; empty for the root. */
  name: string
  entry: ManifestEntry
  parent: TreeNode | undefined
  /** Children in manifest order (UTF-8 byte order of names). */
  children: TreeNode[]
}

/** Builds the tree; the root takes the given mode and date, as the manifest has no entry for it. */
export function buildTree(entries: readonly ManifestEntry[], rootMtime: number): TreeNode {
  const rootEntry: DirectoryEntry = { type: 'directory', path: '', mode: 0o755, mtime: rootMtime }
  const root: TreeNode = { name: '', entry: rootEntry, parent: undefined, children: [] }
  const byPath = new Map<string, TreeNode>([['', root]])
  const sorted = [...entries].sort((a, b) => comparePaths(a.path, b.path))

  for (const entry of sorted) {
    const slash = entry.path.lastIndexOf('/')
    const parent = byPath.get(slash < 0 ? '' : entry.path.slice(0, slash))!
    const node: TreeNode = { name: entry.path.slice(slash + 1), entry, parent, children: [] }
    parent.children.push(node)
    byPath.set(entry.path, node)
  }

  return root
}

export function isDirectory(node: TreeNode): boolean {
  return node.entry.type === 'directory'
}

/** RRIP 4.1.1: a folder's link count is two plus its subfolders. */
export function linkCount(node: TreeNode): number {
  return isDirectory(node) ? 2 + node.children.filter(isDirectory).length : 1
}
