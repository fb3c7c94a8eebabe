import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { chunkerParams } from '../../../protocol/chunker/params.ts'
import { type Manifest, MANIFEST_VERSION, type ManifestEntry } from '../../../protocol/manifest.ts'
import { pseudoRandomBytes } from '../../../test/helpers/random.ts'
import { DiscBudget } from './disc-budget.ts'
import { layoutIso } from './layout.ts'

const META = { volumeId: 'BUDGET', date: 1_700_000_000 }

/** A master of random shape: deep folders, long names, links, files of random sizes. */
function randomEntries(seed: number, count: number): ManifestEntry[] {
  const random = pseudoRandomBytes(count * 8, seed)
  const folders = ['']
  const entries: ManifestEntry[] = []

  for (let i = 0; i < count; i++) {
    const byte = (k: number) => random[i * 8 + k]
    const parent = folders[byte(0) % folders.length]
    const name = `${'n'.repeat(byte(1) % 4 === 0 ? 200 : 1 + (byte(2) % 20))}-${i}`
    const path = parent === '' ? name : `${parent}/${name}`
    const base = { path, mode: 0o644, mtime: META.date }

    if (byte(3) % 3 === 0 && path.split('/').length < 30) {
      folders.push(path)
      entries.push({ ...base, type: 'directory' })
    } else if (byte(3) % 3 === 1) {
      entries.push({ ...base, type: 'symlink', target: 'x/'.repeat(byte(4) * 2) + 'y' })
    } else {
      const size = byte(5) * 70_000 + byte(6)
      const chunks = size === 0 ? [] : [{ id: 'a'.repeat(64), size }]
      const digests = { blake3: '0'.repeat(64), sha256: '0'.repeat(64) }
      entries.push({ ...base, type: 'file', size, chunks, ...digests })
    }
  }

  return entries
}

describe('the disc budget', () => {
  it('never promises less room than the laid-out image takes', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const files = randomEntries(seed, 400)
      const budget = new DiscBudget()
      for (const entry of files) {
        budget.add(entry)
      }

      const manifest: Manifest = { version: MANIFEST_VERSION, chunker: chunkerParams(), files }
      const layout = layoutIso(manifest, META, 'BUDGET')
      assert.ok(
        layout.volumeSectors <= budget.sectors(),
        `seed ${seed}: ${layout.volumeSectors} sectors laid out, ${budget.sectors()} budgeted`,
      )
      assert.ok(budget.sectors() < layout.volumeSectors * 2 + 100, `seed ${seed}: budget too loose`)
    }
  })
})
