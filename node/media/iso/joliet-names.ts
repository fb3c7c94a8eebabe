import { JOLIET_MAX_NAME_UNITS } from './constants.ts'
import { cutUnits } from './encoding.ts'

// Joliet names: the real name in UCS-2, with the characters the Joliet specification forbids
// (section 3.3: controls and * / : ; ? \) replaced by "_". Names longer than 64 characters
// (including the ";1" version of files) are cut, keeping a short extension, and a name that
// would collide within its folder gets a "~N" tail. Names that need no change are reserved
// first, so a shortened name never takes the name of a real one.

/** Extensions up to this many characters (with the dot) survive shortening. */
const KEPT_EXTENSION_UNITS = 16

export interface JolietName {
  /** The name shown, without version. */
  text: string
  /** The file identifier as recorded: the text, plus ";1" for files. */
  identifier: string
}

/** Names for one folder's children, in the order given. */
export function jolietNames(children: ReadonlyArray<{ name: string; directory: boolean }>) {
  const cleaned = children.map((child) => clean(child.name))
  const limits = children.map((child) => JOLIET_MAX_NAME_UNITS - (child.directory ? 0 : 2))
  const taken = new Set<string>()
  const texts: Array<string | undefined> = cleaned.map((text, i) => {
    const exact = text === children[i].name && text.length <= limits[i] && !taken.has(text)

    if (exact) {
      taken.add(text)
    }

    return exact ? text : undefined
  })

  return children.map((child, i): JolietName => {
    const text = texts[i] ?? shorten(cleaned[i], limits[i], taken)
    taken.add(text)
    return { text, identifier: child.directory ? text : `${text};1` }
  })
}

function clean(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: Joliet forbids control characters.
  return name.replace(/[\u0000-\u001f*/:;?\\]/g, '_')
}

function shorten(text: string, limit: number, taken: Set<string>): string {
  const dot = text.lastIndexOf('.')
  const keep = dot > 0 && text.length - dot <= KEPT_EXTENSION_UNITS
  const extension = keep ? text.slice(dot) : ''
  const stem = keep ? text.slice(0, dot) : text
  let candidate = cutUnits(stem, limit - extension.length) + extension

  for (let n = 1; taken.has(candidate); n++) {
    const tail = `~${n}`
    candidate = cutUnits(stem, limit - extension.length - tail.length) + tail + extension
  }

  return candidate
}
