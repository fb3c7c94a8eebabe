import { InvalidInputError } from '../../../protocol/errors.ts'
import { MAX_DIRECTORIES } from './constants.ts'
import type { SystemUseSplit } from './system-use.ts'
import type { TreeNode } from './tree.ts'

// The folders of one directory hierarchy (primary or Joliet) as the image records them.

export interface IsoDirectory {
  /** The real folder; for the relocation directory a synthetic one. */
  node: TreeNode
  /** The parent in this hierarchy; the root's parent is itself (ECMA-119 6.8.2). */
  parent: IsoDirectory
  /** ECMA-119 6.8.2.1: the root is level 1. */
  level: number
  /** The directory identifier: [0] for the root (ECMA-119 6.8.2.2). */
  identifier: Buffer
  children: IsoChild[]
  /** Position in the path table, from 1 (ECMA-119 9.4.4). */
  number: number
  location: number
  bytes: number
  /** Primary hierarchy, relocated folders only: the folder it really lies in (RRIP 4.1.5.2). */
  realParent?: IsoDirectory
  /** Primary hierarchy: this is the Rock Ridge relocation directory, "rr_moved". */
  relocation?: boolean
  /** Primary hierarchy: how each record's SUSP entries are spread, in record order. */
  splits: SystemUseSplit[]
  /** Primary hierarchy: sectors of continuation area written right after the extent. */
  continuationSectors: number
}

export interface IsoChild {
  identifier: Buffer
  node: TreeNode
  role: 'file' | 'symlink' | 'directory' | 'placeholder'
  /** The folder a directory record or a relocation placeholder (RRIP CL) points to. */
  directory?: IsoDirectory
  /** The record carries RRIP RE: a relocated folder, or the relocation directory itself. */
  relocated?: boolean
}

export function newDirectory(
  node: TreeNode,
  parent: IsoDirectory | undefined,
  level: number,
): IsoDirectory {
  const dir: IsoDirectory = {
    node,
    // The root is its own parent; it can only point at itself once it exists.
    parent: parent as IsoDirectory,
    level,
    identifier: Buffer.from([0]),
    children: [],
    number: 0,
    location: 0,
    bytes: 0,
    splits: [],
    continuationSectors: 0,
  }

  if (parent === undefined) {
    dir.parent = dir
  }

  return dir
}

/** Lists the folders breadth first, which is path table order (ECMA-119 9.4), and numbers them. */
export function numberDirectories(root: IsoDirectory): IsoDirectory[] {
  const order: IsoDirectory[] = [root]

  for (let i = 0; i < order.length; i++) {
    order[i].number = i + 1

    for (const child of order[i].children) {
      if (child.role === 'directory' && child.directory !== undefined) {
        order.push(child.directory)
      }
    }
  }

  if (order.length > MAX_DIRECTORIES) {
    throw new InvalidInputError(
      'ISO_TOO_MANY_FOLDERS',
      `the master has ${order.length} folders; an ISO 9660 path table numbers at most ` +
        `${MAX_DIRECTORIES} (split it over several images)`,
    )
  }

  return order
}

/**
 * The order folder extents are written in: the root, the relocation directory and everything
 * below it, then the other folders, each group breadth first. Parents come before children,
 * and libarchive, which reads the image front to back, needs a folder relocated from inside a
 * relocated subtree to be connected before that subtree's own placeholder is read (its CL
 * lies in the main tree, so the main tree's folders must come after every moved one). This is
 * the order genisoimage uses; ECMA-119 ties only the path table, not extents, to an order.
 */
export function extentOrder(dirs: readonly IsoDirectory[]): IsoDirectory[] {
  const moved = (dir: IsoDirectory): boolean =>
    dir.relocation === true || (dir.parent !== dir && moved(dir.parent))
  const [root, ...rest] = dirs

  return [root, ...rest.filter(moved), ...rest.filter((dir) => !moved(dir))]
}
