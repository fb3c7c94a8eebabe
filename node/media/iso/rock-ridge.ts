import { recordDate, writeBoth32 } from './encoding.ts'

// System Use Sharing Protocol (SUSP 1.12) and Rock Ridge (RRIP 1.12) entries. Every entry starts
// with a two-letter signature, its length and version 1 (SUSP 4.1). Entries are built as
// separate buffers so that system-use.ts can spread them over a record and continuation areas.

const S_IFDIR = 0o040000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000

export const POSIX_TYPE = { directory: S_IFDIR, file: S_IFREG, symlink: S_IFLNK } as const

/** Continuation entries have a fixed size, so layouts can reserve room for them. */
export const CE_BYTES = 28

/** The most content one NM or SL entry carries: 255 bytes less its five-byte header. */
const MAX_ENTRY_CONTENT = 250

const ER_ID = 'RRIP_1991A'
const ER_DESCRIPTOR =
  'THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS'
const ER_SOURCE =
  'PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN ' +
  'PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.'

function entry(signature: string, content: Buffer | readonly number[]): Buffer {
  const body = Buffer.isBuffer(content) ? content : Buffer.from(content)
  const out = Buffer.alloc(4 + body.length)
  out.write(signature, 0, 'latin1')
  out[2] = out.length
  out[3] = 1
  body.copy(out, 4)
  return out
}

/** SUSP 5.3: marks the root's "." record as using SUSP, with no bytes skipped. */
export function spEntry(): Buffer {
  return entry('SP', [0xbe, 0xef, 0])
}

/** SUSP 5.5: names the extension in use, Rock Ridge, in the root's "." record. */
export function erEntry(): Buffer {
  const id = Buffer.from(ER_ID, 'latin1')
  const descriptor = Buffer.from(ER_DESCRIPTOR, 'latin1')
  const source = Buffer.from(ER_SOURCE, 'latin1')
  const head = Buffer.from([id.length, descriptor.length, source.length, 1])
  return entry('ER', Buffer.concat([head, id, descriptor, source]))
}

/** SUSP 5.1: the rest of a record's entries lie at `offset` in sector `location`. */
export function ceEntry(location: number, offset: number, length: number): Buffer {
  const body = Buffer.alloc(24)
  writeBoth32(body, 0, location)
  writeBoth32(body, 8, offset)
  writeBoth32(body, 16, length)
  return entry('CE', body)
}

/** RRIP 4.1.1: POSIX mode, link count, owner and group (root, as the master does not say). */
export function pxEntry(mode: number, links: number): Buffer {
  const body = Buffer.alloc(32)
  writeBoth32(body, 0, mode)
  writeBoth32(body, 8, links)
  return entry('PX', body)
}

/** RRIP 4.1.6: modification and access time, both the manifest's mtime. */
export function tfEntry(mtime: number): Buffer {
  const stamp = recordDate(mtime)
  return entry('TF', Buffer.concat([Buffer.from([0x06]), stamp, stamp]))
}

/** RRIP 4.1.4: the real name, over several entries flagged CONTINUE when it is long. */
export function nmEntries(name: string): Buffer[] {
  const bytes = Buffer.from(name, 'utf8')
  const entries: Buffer[] = []

  for (let start = 0; start < bytes.length; start += MAX_ENTRY_CONTENT) {
    const part = bytes.subarray(start, start + MAX_ENTRY_CONTENT)
    const more = start + MAX_ENTRY_CONTENT < bytes.length
    entries.push(entry('NM', Buffer.concat([Buffer.from([more ? 1 : 0]), part])))
  }

  return entries
}

/** RRIP 4.1.5.1 and 4.1.5.2: CL in the placeholder, PL in the moved directory's "..". */
export function clEntry(location: number): Buffer {
  return locationEntry('CL', location)
}

export function plEntry(location: number): Buffer {
  return locationEntry('PL', location)
}

/** RRIP 4.1.5.3: marks a relocated directory (and the relocation directory) in its new place. */
export function reEntry(): Buffer {
  return entry('RE', [])
}

function locationEntry(signature: string, location: number): Buffer {
  const body = Buffer.alloc(8)
  writeBoth32(body, 0, location)
  return entry(signature, body)
}

/**
 * RRIP 4.1.3: a symbolic link's target as component records over one or more SL entries. An
 * entry that another follows always ends in a continued component: a name split across the two,
 * or an empty continued component. libarchive starts every SL entry without a separator, and
 * the Linux kernel and libisofs add none after a continued component, so all three read the
 * same target.
 */
export function slEntries(target: string): Buffer[] {
  const components = slComponents(target)
  const room = MAX_ENTRY_CONTENT - 1
  const entries: Buffer[] = []
  let pending: Buffer[] = []
  let used = 0

  for (const [i, component] of components.entries()) {
    const last = i === components.length - 1
    const reserve = last ? 0 : EMPTY_CONTINUED.length

    if (used + component.length + reserve > room) {
      const continued = (pending.at(-1)![0] & SL_CONTINUE) !== 0
      const parts = continued ? pending : [...pending, EMPTY_CONTINUED]
      entries.push(entry('SL', Buffer.concat([Buffer.from([SL_CONTINUE]), ...parts])))
      pending = []
      used = 0
    }

    pending.push(component)
    used += component.length
  }

  entries.push(entry('SL', Buffer.concat([Buffer.from([0]), ...pending])))
  return entries
}

const SL_CONTINUE = 0x01
const EMPTY_CONTINUED = Buffer.from([SL_CONTINUE, 0])
/** Name pieces are kept short enough that one plus an empty continued component fits an entry. */
const MAX_COMPONENT_CONTENT = MAX_ENTRY_CONTENT - 1 - 2 - EMPTY_CONTINUED.length

/** RRIP 4.1.3.1 component records: ROOT, CURRENT, PARENT or name pieces. */
function slComponents(target: string): Buffer[] {
  const records: Buffer[] = []
  const parts = target.split('/')

  if (target.startsWith('/')) {
    records.push(Buffer.from([0x08, 0]))
    parts.shift()
  }

  // A trailing "/" is kept as an empty last component, which readers turn back into the slash.
  // A doubled "/" inside the target is recorded as one: libisofs would drop the empty component
  // that libarchive and Linux read as "//", and POSIX resolves both alike.
  for (const [i, part] of parts.entries()) {
    if (part === '' && i < parts.length - 1) {
      continue
    }

    if (part === '.' || part === '..') {
      records.push(Buffer.from([part === '.' ? 0x02 : 0x04, 0]))
      continue
    }

    records.push(...namePieces(Buffer.from(part, 'utf8')))
  }

  return records
}

function namePieces(bytes: Buffer): Buffer[] {
  const pieces: Buffer[] = []
  let start = 0

  do {
    const piece = bytes.subarray(start, start + MAX_COMPONENT_CONTENT)
    start += MAX_COMPONENT_CONTENT
    const more = start < bytes.length
    pieces.push(Buffer.concat([Buffer.from([more ? SL_CONTINUE : 0, piece.length]), piece]))
  } while (start < bytes.length)

  return pieces
}
