import type { ManifestEntry } from '../../protocol/manifest.ts'
import { pseudoRandomBytes } from './random.ts'

const MTIME = 1_700_000_000
/** Name material: plain, Unicode (2, 3 and 4 UTF-8 bytes), and characters Joliet forbids. */
const LETTERS = ['n', 'é', '名', '🎉', ':', ' ', 'N', ';']

/** A master of random shape: deep folders, long names, links, files of random sizes. */
export function randomEntries(seed: number, count: number, sizeStep = 70_000): ManifestEntry[] {
  const random = pseudoRandomBytes(count * 8, seed)
  const folders = ['']
  const entries: ManifestEntry[] = []

  for (let i = 0; i < count; i++) {
    const byte = (k: number) => random[i * 8 + k]
    const parent = folders[byte(0) % folders.length]
    const letter = LETTERS[byte(7) % LETTERS.length]
    const name = `${letter.repeat(byte(1) % 4 === 0 ? 60 : 1 + (byte(2) % 20))}-${i}.${letter}`
    const path = parent === '' ? name : `${parent}/${name}`
    const base = { path, mode: 0o644, mtime: MTIME }

    if (byte(3) % 3 === 0 && path.split('/').length < 30) {
      folders.push(path)
      entries.push({ ...base, type: 'directory' })
    } else if (byte(3) % 3 === 1) {
      entries.push({ ...base, type: 'symlink', target: 'x/'.repeat(byte(4) * 2) + 'y' })
    } else {
      const size = byte(5) * sizeStep + byte(6)
      const chunks = size === 0 ? [] : [{ id: 'a'.repeat(64), size }]
      const digests = { blake3: '0'.repeat(64), sha256: '0'.repeat(64) }
      entries.push({ ...base, type: 'file', size, chunks, ...digests })
    }
  }

  return entries
}
