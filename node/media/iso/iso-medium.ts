import { InvalidInputError } from '../../../protocol/errors.ts'
import { validateManifest } from '../../../protocol/manifest.ts'
import type { Medium, MediumFile, MediumInput } from '../medium.ts'
import { DISC_SECTORS, type DiscSize, SECTOR_BYTES } from './constants.ts'
import { planDiscSet } from './disc-set.ts'
import { discSetIndex } from './disc-set-index.ts'
import { dCharacters } from './encoding.ts'
import { isoBytes } from './image-stream.ts'
import { type IsoLayout, layoutIso } from './layout.ts'

export interface IsoOptions {
  /** Base file name without extension, e.g. `product-1.0`. */
  name: string
  /** Split into a set of discs of this size when the master does not fit one. */
  disc?: DiscSize
}

/** Not part of the public options: lets tests use a small disc. */
export interface IsoTestOptions {
  capacitySectors?: number
}

/** ECMA-119 8.4.6: the volume identifier is at most 32 d-characters. */
const VOLUME_ID_CHARS = 32

export function isoMedium(input: MediumInput, options: IsoOptions): Medium {
  return isoMediumWith(input, options, {})
}

export function isoMediumWith(
  input: MediumInput,
  options: IsoOptions,
  test: IsoTestOptions,
): Medium {
  checkOptions(options)
  validateManifest(input.manifest)
  const volumeId = dCharacters(input.meta.volumeId).slice(0, VOLUME_ID_CHARS)

  if (options.disc === undefined && test.capacitySectors === undefined) {
    const layout = layoutIso(input.manifest, input.meta, volumeId)
    return { kind: 'iso', files: [imageFile(`${options.name}.iso`, layout, input)] }
  }

  const capacity = test.capacitySectors ?? DISC_SECTORS[options.disc!]
  const discs = planDiscSet(input.manifest, input.meta, volumeId, capacity)

  if (discs.length === 1) {
    return { kind: 'iso', files: [imageFile(`${options.name}.iso`, discs[0].layout, input)] }
  }

  const files = discs.map((disc, i) =>
    imageFile(`${options.name}-disc${i + 1}.iso`, disc.layout, input),
  )
  const index = discSetIndex(
    options,
    capacity,
    files,
    discs.map((disc) => disc.manifest),
  )
  return { kind: 'iso', files: [...files, index] }
}

function imageFile(name: string, layout: IsoLayout, input: MediumInput): MediumFile {
  return {
    name,
    size: layout.volumeSectors * SECTOR_BYTES,
    bytes: (signal) => isoBytes(layout, input.source, signal),
  }
}

function checkOptions(options: IsoOptions): void {
  if (
    typeof options.name !== 'string' ||
    !/^[^/\\]+$/.test(options.name) ||
    options.name.includes('\0')
  ) {
    throw new InvalidInputError(
      'ISO_BAD_OPTIONS',
      `image name ${JSON.stringify(options.name)} must be a non-empty file name without slashes`,
    )
  }

  if (options.disc !== undefined && !Object.hasOwn(DISC_SECTORS, options.disc)) {
    throw new InvalidInputError(
      'ISO_BAD_OPTIONS',
      `disc size ${JSON.stringify(options.disc)} is not one of ` +
        Object.keys(DISC_SECTORS).join(', '),
    )
  }
}
