import type { IsoDirectory } from './iso-tree.ts'

// ECMA-119 9.4: one record per folder in path table order, the type L table little-endian and
// the type M table big-endian. Each table is written padded to whole sectors.

export function pathTableBytes(dirs: readonly IsoDirectory[]): number {
  return dirs.reduce(
    (total, dir) => total + 8 + dir.identifier.length + (dir.identifier.length % 2),
    0,
  )
}

export function pathTable(dirs: readonly IsoDirectory[], bigEndian: boolean): Buffer {
  const out = Buffer.alloc(pathTableBytes(dirs))
  let at = 0

  for (const dir of dirs) {
    out[at] = dir.identifier.length

    if (bigEndian) {
      out.writeUInt32BE(dir.location, at + 2)
      out.writeUInt16BE(dir.parent.number, at + 6)
    } else {
      out.writeUInt32LE(dir.location, at + 2)
      out.writeUInt16LE(dir.parent.number, at + 6)
    }

    dir.identifier.copy(out, at + 8)
    at += 8 + dir.identifier.length + (dir.identifier.length % 2)
  }

  return out
}
