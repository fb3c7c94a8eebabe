import { MAX_DIRECTORY_LEVELS, RELOCATION_DIRECTORY } from './constants.ts'
import { type IsoChild, type IsoDirectory, newDirectory, numberDirectories } from './iso-tree.ts'
import { comparePrimaryNames, type PrimaryName, PrimaryNamer } from './primary-names.ts'
import { isDirectory, type TreeNode } from './tree.ts'

// The primary hierarchy: 8.3 names, and folders deeper than eight levels relocated the Rock Ridge
// way (RRIP 1.12 4.1.5). A relocated folder moves into "rr_moved" at the root; its real parent
// keeps a placeholder file record with CL pointing at it, and its ".." carries PL pointing back.
// The relocation directory itself is marked RE, as xorriso does, so Rock Ridge readers hide it.

interface Pending {
  child: IsoChild
  real: string
  directory: boolean
}

export function primaryHierarchy(root: TreeNode): IsoDirectory[] {
  const top = newDirectory(root, undefined, 1)
  const pending = new Map<IsoDirectory, Pending[]>([[top, []]])
  let moved: IsoDirectory | undefined

  const relocation = () => {
    if (moved === undefined) {
      moved = newDirectory(movedNode(root), top, 2)
      moved.relocation = true
      pending.set(moved, [])
    }

    return moved
  }

  const visit = (dir: IsoDirectory) => {
    for (const node of dir.node.children) {
      visitChild(dir, node)
    }
  }

  const visitChild = (dir: IsoDirectory, node: TreeNode) => {
    const list = pending.get(dir)!

    if (!isDirectory(node)) {
      const role = node.entry.type === 'symlink' ? 'symlink' : 'file'
      list.push({ child: blank(node, role), real: node.name, directory: false })
      return
    }

    const deep = dir.level + 1 > MAX_DIRECTORY_LEVELS
    const parent = deep ? relocation() : dir
    const sub = newDirectory(node, parent, parent.level + 1)
    pending.set(sub, [])

    if (deep) {
      sub.realParent = dir
      const placeholder = { ...blank(node, 'placeholder'), directory: sub }
      list.push({ child: placeholder, real: node.name, directory: true })
    }

    const record = { ...blank(node, 'directory'), directory: sub, relocated: deep }
    pending.get(parent)!.push({ child: record, real: node.name, directory: true })
    visit(sub)
  }

  visit(top)

  for (const [dir, children] of pending) {
    nameChildren(dir, children, dir === top ? moved : undefined)
  }

  return numberDirectories(top)
}

function blank(node: TreeNode, role: IsoChild['role']): IsoChild {
  return { identifier: Buffer.alloc(0), node, role }
}

function movedNode(root: TreeNode): TreeNode {
  return { name: RELOCATION_DIRECTORY, entry: root.entry, parent: root, children: [] }
}

function nameChildren(dir: IsoDirectory, list: Pending[], moved: IsoDirectory | undefined): void {
  const namer = new PrimaryNamer()
  const named: Array<{ child: IsoChild; name: PrimaryName }> = []

  if (moved !== undefined) {
    const name = namer.reserve(RELOCATION_DIRECTORY.toUpperCase())
    const child: IsoChild = { ...blank(moved.node, 'directory'), directory: moved, relocated: true }
    named.push({ child, name })
  }

  for (const item of list) {
    named.push({ child: item.child, name: namer.name(item.real, item.directory) })
  }

  named.sort((a, b) => comparePrimaryNames(a.name, b.name))
  dir.children = named.map(({ child, name }) => {
    child.identifier = Buffer.from(name.identifier, 'latin1')

    if (child.role === 'directory' && child.directory !== undefined) {
      child.directory.identifier = child.identifier
    }

    return child
  })
}
