import { InvalidInputError } from '../../../protocol/errors.ts'

// Names on FAT (Microsoft FAT specification, "FAT Long Directory Entries" and "Basis-Name
// Generation"): every entry has an 8.3 short name, unique in its folder; an entry whose name is
// not exactly its short name also gets VFAT long-name entries, UTF-16, 13 units each, stored
// last part first before the short entry, each carrying a checksum of the short name.

export const DIR_ENTRY_BYTES = 32
const LFN_UNITS_PER_ENTRY = 13
const LFN_LAST = 0x40
const ATTR_LONG_NAME = 0x0f
/** Short-name characters we emit; the spec allows a few more, which some tools dislike. */
const SHORT_CHAR = /[A-Z0-9!#$%&'()\-@^_`{}~]/
/** Characters that no long name may hold (spec, "Long File Name Entry Valid Characters"). */
const BAD_LONG_CHARS = new Set('"*/:<>?\\|')

export interface FatName {
  /** 11 bytes: base padded to 8, extension padded to 3. */
  short: Buffer
  /** Long-name entries in on-disk order; empty when the short name is the name. */
  long: Buffer[]
}

/** Gives each name of one folder its short name and long-name entries, deterministically. */
export function nameFolder(names: readonly string[], where: string): FatName[] {
  checkNames(names, where)
  const taken = new Set<string>()
  const exact = names.map((name) => (exactShortName(name) ? name : undefined))

  for (const name of exact) {
    if (name !== undefined) {
      taken.add(name)
    }
  }

  return names.map((name, i) => {
    const short = exact[i] ?? tailedShortName(name, taken)
    const bytes = shortNameBytes(short)
    return { short: bytes, long: exact[i] ? [] : longNameEntries(name, bytes) }
  })
}

/** The number of 32-byte entries a name takes in its folder. */
export function entryCount(name: FatName): number {
  return 1 + name.long.length
}

/** The spec's rotate-right-and-add checksum over the 11 short-name bytes. */
export function shortNameChecksum(short: Uint8Array): number {
  let sum = 0

  for (let i = 0; i < 11; i++) {
    sum = (((sum & 1) << 7) + (sum >> 1) + short[i]) & 0xff
  }

  return sum
}

/** A volume label: 11 characters, upper case, short-name characters or spaces, padded. */
export function volumeLabel(volumeId: string): Buffer | undefined {
  const label = [...volumeId.toUpperCase()]
    .map((char) => (char === ' ' || SHORT_CHAR.test(char) ? char : '_'))
    .join('')
    .slice(0, 11)
    .trimEnd()

  return label.trim() === '' ? undefined : Buffer.from(label.padEnd(11, ' '), 'ascii')
}

function checkNames(names: readonly string[], where: string): void {
  const folded = new Set<string>()

  for (const name of names) {
    if (!validLongName(name)) {
      throw new InvalidInputError(
        'IMG_BAD_NAME',
        `"${join(where, name)}" cannot be stored on FAT: names may not hold control characters ` +
          'or any of " * / : < > ? \\ | and may not end with a dot or a space',
      )
    }

    const key = name.toUpperCase()
    if (folded.has(key)) {
      throw new InvalidInputError(
        'IMG_NAME_CONFLICT',
        `"${join(where, name)}" differs from another name in its folder only in case, ` +
          'which FAT cannot tell apart',
      )
    }

    folded.add(key)
  }
}

function validLongName(name: string): boolean {
  if (name.endsWith('.') || name.endsWith(' ')) {
    return false
  }

  return [...name].every(
    (char) => char.charCodeAt(0) >= 0x20 && char !== '\x7f' && !BAD_LONG_CHARS.has(char),
  )
}

function exactShortName(name: string): boolean {
  const dot = name.lastIndexOf('.')
  const base = dot < 0 ? name : name.slice(0, dot)
  const ext = dot < 0 ? '' : name.slice(dot + 1)

  return (
    base.length >= 1 &&
    base.length <= 8 &&
    ext.length <= 3 &&
    (dot < 0 || ext.length > 0) &&
    [...base, ...ext].every((char) => SHORT_CHAR.test(char))
  )
}

/** Basis name plus the lowest free numeric tail, "BASIS~N.EXT". */
function tailedShortName(name: string, taken: Set<string>): string {
  const trimmed = name.replace(/^\.+/, '')
  const dot = trimmed.lastIndexOf('.')
  const base = shortChars(dot < 0 ? trimmed : trimmed.slice(0, dot)) || '_'
  const ext = dot < 0 ? '' : shortChars(trimmed.slice(dot + 1)).slice(0, 3)

  for (let n = 1; ; n++) {
    const tail = `~${n}`
    const candidate = `${base.slice(0, 8 - tail.length)}${tail}${ext ? `.${ext}` : ''}`

    if (!taken.has(candidate)) {
      taken.add(candidate)
      return candidate
    }
  }
}

function shortChars(text: string): string {
  return [...text.toUpperCase().replace(/[ .]/g, '')]
    .map((char) => (SHORT_CHAR.test(char) ? char : '_'))
    .join('')
}

function shortNameBytes(short: string): Buffer {
  const dot = short.lastIndexOf('.')
  const base = dot < 0 ? short : short.slice(0, dot)
  const ext = dot < 0 ? '' : short.slice(dot + 1)
  return Buffer.from(base.padEnd(8, ' ') + ext.padEnd(3, ' '), 'ascii')
}

function longNameEntries(name: string, short: Buffer): Buffer[] {
  const units = Buffer.from(name, 'utf16le')
  const count = Math.ceil(units.length / 2 / LFN_UNITS_PER_ENTRY)
  const checksum = shortNameChecksum(short)
  const entries: Buffer[] = []

  for (let seq = count; seq >= 1; seq--) {
    entries.push(longNameEntry(units, seq, seq === count, checksum))
  }

  return entries
}

/** One long-name entry: 5 + 6 + 2 UTF-16 units; after the name a 0x0000, then 0xFFFF fill. */
function longNameEntry(units: Buffer, seq: number, last: boolean, checksum: number): Buffer {
  const entry = Buffer.alloc(DIR_ENTRY_BYTES)
  const offsets = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30]
  const first = (seq - 1) * LFN_UNITS_PER_ENTRY
  const total = units.length / 2

  entry[0] = seq | (last ? LFN_LAST : 0)
  entry[11] = ATTR_LONG_NAME
  entry[13] = checksum

  offsets.forEach((offset, i) => {
    const unit = first + i
    const value = unit < total ? units.readUInt16LE(unit * 2) : unit === total ? 0 : 0xffff
    entry.writeUInt16LE(value, offset)
  })

  return entry
}

function join(where: string, name: string): string {
  return where === '' ? name : `${where}/${name}`
}
