import { InvalidInputError, PressmeshError } from '../../../protocol/errors.ts'
import { comparePaths, type Manifest, type ManifestEntry } from '../../../protocol/manifest.ts'
import type { MediumMeta } from '../medium.ts'
import { DISC_SECTORS, SECTOR_BYTES } from './constants.ts'
import { DiscBudget } from './disc-budget.ts'
import { type IsoLayout, layoutIso } from './layout.ts'

// Splits a master over discs of one capacity. Entries are taken in manifest path order and each
// goes on the first disc it fits (first fit), with the folders above it recreated there. Every
// file, link and empty folder lands on exactly one disc; each disc is a complete, independent
// ISO volume, so any one of them can be read alone.

export interface PlannedDisc {
  manifest: Manifest
  layout: IsoLayout
}

interface Disc {
  budget: DiscBudget
  folders: Set<string>
  entries: ManifestEntry[]
}

export function planDiscSet(
  manifest: Manifest,
  meta: MediumMeta,
  volumeId: string,
  capacity: number,
): PlannedDisc[] {
  const folders = new Map(
    manifest.files
      .filter((entry) => entry.type === 'directory')
      .map((entry) => [entry.path, entry]),
  )
  const discs: Disc[] = []

  for (const entry of placeable(manifest)) {
    const needed = [...ancestors(entry.path).map((path) => folders.get(path)!), entry]
    let disc = discs.find((candidate) => fits(candidate, needed, capacity))

    if (disc === undefined) {
      disc = { budget: new DiscBudget(), folders: new Set(), entries: [] }
      refuseTooLarge(entry, needed, capacity)
      discs.push(disc)
    }

    addTo(disc, needed)
  }

  if (discs.length === 0) {
    discs.push({ budget: new DiscBudget(), folders: new Set(), entries: [] })
  }

  return discs.map((disc, i) =>
    layoutDisc(manifest, disc, meta, discVolumeId(volumeId, i, discs.length), capacity),
  )
}

/** Files, links and folders with nothing below them, in path order. */
function placeable(manifest: Manifest): ManifestEntry[] {
  const parents = new Set(
    manifest.files.map((entry) => entry.path.slice(0, Math.max(0, entry.path.lastIndexOf('/')))),
  )
  return manifest.files
    .filter((entry) => entry.type !== 'directory' || !parents.has(entry.path))
    .sort((a, b) => comparePaths(a.path, b.path))
}

function ancestors(path: string): string[] {
  const parts = path.split('/')
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('/'))
}

function fits(disc: Disc, needed: ManifestEntry[], capacity: number): boolean {
  const trial = disc.budget.clone()

  for (const entry of needed) {
    if (!disc.folders.has(entry.path)) {
      trial.add(entry)
    }
  }

  return trial.sectors() <= capacity
}

function addTo(disc: Disc, needed: ManifestEntry[]): void {
  for (const entry of needed) {
    if (entry.type === 'directory' && disc.folders.has(entry.path)) {
      continue
    }

    if (entry.type === 'directory') {
      disc.folders.add(entry.path)
    }

    disc.budget.add(entry)
    disc.entries.push(entry)
  }
}

function refuseTooLarge(entry: ManifestEntry, needed: ManifestEntry[], capacity: number): void {
  const empty = { budget: new DiscBudget(), folders: new Set<string>(), entries: [] }

  if (fits(empty, needed, capacity)) {
    return
  }

  const size = entry.type === 'file' ? `${entry.size} bytes` : 'an entry'
  const smallest = Object.entries(DISC_SECTORS).find(([, sectors]) => fits(empty, needed, sectors))
  const advice =
    smallest === undefined
      ? 'no disc size holds it; write a single image without a disc size'
      : `the smallest disc that holds it is ${smallest[0]}`

  throw new InvalidInputError(
    'ISO_FILE_TOO_LARGE_FOR_DISC',
    `"${entry.path}" (${size}) does not fit on a disc of ${capacity * SECTOR_BYTES} bytes; ` +
      advice,
  )
}

function layoutDisc(
  manifest: Manifest,
  disc: Disc,
  meta: MediumMeta,
  volumeId: string,
  capacity: number,
): PlannedDisc {
  const files = [...disc.entries].sort((a, b) => comparePaths(a.path, b.path))
  const discManifest: Manifest = { ...manifest, files }
  const layout = layoutIso(discManifest, meta, volumeId)

  if (layout.volumeSectors > capacity) {
    throw new PressmeshError(
      'ISO_DISC_OVERFLOW',
      `disc image ${volumeId} takes ${layout.volumeSectors} sectors, more than the ` +
        `${capacity} planned`,
    )
  }

  return { manifest: discManifest, layout }
}

/** Each disc's volume identifier ends in its number, e.g. PRODUCT_1_0_D2. */
function discVolumeId(volumeId: string, index: number, count: number): string {
  if (count === 1) {
    return volumeId
  }

  const suffix = `_D${index + 1}`
  return volumeId.slice(0, 32 - suffix.length) + suffix
}
