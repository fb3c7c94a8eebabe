import { InvalidInputError } from '../../protocol/errors.ts'
import type { Logger } from '../../protocol/logger.ts'
import { imgMedium } from './img/index.ts'
import { type DiscSize, isoMedium } from './iso/index.ts'

import type { Medium, MediumInput } from './medium.ts'
import { tarMedium } from './tar/index.ts'

// Every medium format Pressmesh can write, by the name `pressmesh pack --format` and job specs
// use. A format whose writer is not part of this build maps to undefined and is refused with
// PACK_FORMAT_UNAVAILABLE.

export const PACK_FORMATS = ['tar', 'tar.gz', 'img', 'iso'] as const
export type PackFormat = (typeof PACK_FORMATS)[number]

export interface PackOptions {
  /** Output file name without extension. */
  name: string
  /** Put an img behind an MBR partition table. */
  mbr?: boolean
  /** Disc size for a set of ISO images, e.g. `dvd5`. */
  disc?: string
  log?: Logger
}

export type MediumWriter = (input: MediumInput, options: PackOptions) => Medium

export const MEDIUM_WRITERS: Record<PackFormat, MediumWriter | undefined> = {
  tar: (input, options) => tarMedium(input, { name: options.name }),
  'tar.gz': (input, options) => tarMedium(input, { name: options.name, gzip: true }),
  img: (input, options) => imgMedium(input, options),
  // isoMedium checks the disc name itself (ISO_BAD_OPTIONS names the sizes it knows).
  iso: (input, options) =>
    isoMedium(input, { name: options.name, disc: options.disc as DiscSize | undefined }),
}

export function isPackFormat(format: string): format is PackFormat {
  return (PACK_FORMATS as readonly string[]).includes(format)
}

/** The writer for a format, or PACK_UNKNOWN_FORMAT / PACK_FORMAT_UNAVAILABLE. */
export function mediumWriter(format: string): MediumWriter {
  if (!isPackFormat(format)) {
    throw new InvalidInputError(
      'PACK_UNKNOWN_FORMAT',
      `unknown medium format "${format}"; choose one of ${PACK_FORMATS.join(', ')}`,
    )
  }

  const writer = MEDIUM_WRITERS[format]
  if (writer === undefined) {
    throw new InvalidInputError(
      'PACK_FORMAT_UNAVAILABLE',
      `the ${format} writer is not in this build; choose one of ${availableFormats().join(', ')}`,
    )
  }

  return writer
}

export function availableFormats(): PackFormat[] {
  return PACK_FORMATS.filter((format) => MEDIUM_WRITERS[format] !== undefined)
}
