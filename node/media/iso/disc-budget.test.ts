import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { chunkerParams } from '../../../protocol/chunker/params.ts'
import { type Manifest, MANIFEST_VERSION } from '../../../protocol/manifest.ts'
import { randomEntries } from '../../../test/helpers/iso-random-master.ts'
import { DiscBudget } from './disc-budget.ts'
import { layoutIso } from './layout.ts'

const META = { volumeId: 'BUDGET', date: 1_700_000_000 }

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
