import type { Manifest } from '../../../protocol/manifest.ts'
import type { MediumFile } from '../medium.ts'
import { SECTOR_BYTES } from './constants.ts'
import type { IsoOptions } from './iso-medium.ts'

// The set index, `<name>-discs.json`: which image holds which paths, so an installer (or a
// person) knows which disc to ask for. Paths include the folders recreated on each disc.

export const DISC_SET_INDEX_VERSION = 1

export interface DiscSetIndex {
  version: typeof DISC_SET_INDEX_VERSION
  name: string
  disc: string
  capacityBytes: number
  discs: Array<{ file: string; bytes: number; paths: string[] }>
}

export function discSetIndex(
  options: IsoOptions,
  capacitySectors: number,
  images: readonly MediumFile[],
  manifests: readonly Manifest[],
): MediumFile {
  const index: DiscSetIndex = {
    version: DISC_SET_INDEX_VERSION,
    name: options.name,
    disc: options.disc ?? 'custom',
    capacityBytes: capacitySectors * SECTOR_BYTES,
    discs: images.map((image, i) => ({
      file: image.name,
      bytes: image.size!,
      paths: manifests[i].files.map((entry) => entry.path),
    })),
  }
  const bytes = Buffer.from(`${JSON.stringify(index, null, 2)}\n`, 'utf8')

  return {
    name: `${options.name}-discs.json`,
    size: bytes.length,
    bytes: async function* () {
      yield bytes
    },
  }
}
