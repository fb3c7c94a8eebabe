import { PRIMARY_EXTENSION_CHARS, PRIMARY_STEM_CHARS } from './constants.ts'
import { dCharacters } from './encoding.ts'

// ISO 9660 names for the primary tree. Real names live in Rock Ridge NM; these are 8.3 names
// of d-characters (ECMA-119 7.5.1), valid at every interchange level, made unique within their
// folder by a "~N" tail given in the order the names are offered (manifest order).

export interface PrimaryName {
  stem: string
  extension: string
  /** The file identifier as recorded: "STEM.EXT;1" for files, "STEM" for folders. */
  identifier: string
}

export class PrimaryNamer {
  private readonly taken = new Set<string>()
  /** The next "~N" to try for each name, so many similar names cost no repeated probing. */
  private readonly nextTail = new Map<string, number>()

  /** Reserves a name exactly as given, e.g. the relocation directory. */
  reserve(stem: string): PrimaryName {
    this.taken.add(stem)
    return { stem, extension: '', identifier: stem }
  }

  name(real: string, directory: boolean): PrimaryName {
    const [stem, extension] = directory ? [dCharacters(real), ''] : splitFileName(real)
    const base = stem.slice(0, PRIMARY_STEM_CHARS) || '_'
    const ext = extension.slice(0, PRIMARY_EXTENSION_CHARS)
    const wanted = key(base, ext, directory)
    let candidate = base
    let n = this.nextTail.get(wanted) ?? 1

    for (; this.taken.has(key(candidate, ext, directory)); n++) {
      const tail = `~${n}`
      candidate = base.slice(0, Math.max(0, PRIMARY_STEM_CHARS - tail.length)) + tail
    }

    this.nextTail.set(wanted, n)
    this.taken.add(key(candidate, ext, directory))
    const identifier = directory ? candidate : `${candidate}.${ext};1`
    return { stem: candidate, extension: ext, identifier }
  }
}

function key(stem: string, extension: string, directory: boolean): string {
  return directory ? stem : `${stem}.${extension}`
}

/** Splits at the last dot; a leading dot (".profile") belongs to the stem. */
function splitFileName(real: string): [string, string] {
  const dot = real.lastIndexOf('.')

  if (dot <= 0) {
    return [dCharacters(real), '']
  }

  return [dCharacters(real.slice(0, dot)), dCharacters(real.slice(dot + 1))]
}

/** ECMA-119 9.3: records sort by name, then extension, each padded with spaces. */
export function comparePrimaryNames(a: PrimaryName, b: PrimaryName): number {
  const left = a.stem.padEnd(PRIMARY_STEM_CHARS + 8, ' ') + a.extension.padEnd(8, ' ')
  const right = b.stem.padEnd(PRIMARY_STEM_CHARS + 8, ' ') + b.extension.padEnd(8, ' ')
  return left < right ? -1 : left > right ? 1 : 0
}
