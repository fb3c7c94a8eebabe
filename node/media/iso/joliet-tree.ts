import { ucs2 } from './encoding.ts'
import { type IsoChild, type IsoDirectory, newDirectory, numberDirectories } from './iso-tree.ts'
import { jolietNames } from './joliet-names.ts'
import { isDirectory, type TreeNode } from './tree.ts'

// The Joliet hierarchy mirrors the real tree, folders at their real depth (Joliet readers do not
// enforce ECMA-119's eight levels). Symbolic links are left out: Joliet has no way to record
// them, and an empty file in their place would extract as something the master does not hold.

export function jolietHierarchy(root: TreeNode): IsoDirectory[] {
  const top = newDirectory(root, undefined, 1)
  const stack = [top]

  while (stack.length > 0) {
    const dir = stack.pop()!
    const nodes = dir.node.children.filter((node) => node.entry.type !== 'symlink')
    const names = jolietNames(
      nodes.map((node) => ({ name: node.name, directory: isDirectory(node) })),
    )

    dir.children = nodes.map((node, i): IsoChild => {
      const identifier = ucs2(names[i].identifier)

      if (!isDirectory(node)) {
        return { identifier, node, role: 'file' }
      }

      const sub = newDirectory(node, dir, dir.level + 1)
      sub.identifier = identifier
      stack.push(sub)
      return { identifier, node, role: 'directory', directory: sub }
    })

    dir.children.sort((a, b) => Buffer.compare(a.identifier, b.identifier))
  }

  return numberDirectories(top)
}
