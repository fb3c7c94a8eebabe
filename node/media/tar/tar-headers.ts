import type { Header } from 'tar-stream'
import type { ManifestEntry } from '../../../protocol/manifest.ts'
import type { MediumInput } from '../medium.ts'

// Headers for tar-stream, decided here rather than left to tar-stream so that the archive's
// size can be computed before a byte is written. POSIX.1-2001 pax: an entry whose name or link
// target does not fit the ustar fields, or is not ASCII, or whose size needs more than the 11
// octal digits of the ustar size field (8 GiB and up), gets an extended header ('x') first.

export const BLOCK_BYTES = 512
/** Two zero blocks end the archive (POSIX.1-1988 ustar, kept by pax). */
export const END_BYTES = 2 * BLOCK_BYTES
/** 8^11: the ustar size and mtime fields hold 11 octal digits. */
const OCTAL_11_LIMIT = 8 ** 11

export type TarHeader = Header & { pax?: Record<string, string> }

export function tarHeader(entry: ManifestEntry): TarHeader {
  const header: TarHeader = {
    name: entry.path,
    size: entry.type === 'file' ? entry.size : 0,
    mode: entry.mode,
    // ustar mtime is unsigned 11-digit octal; earlier or later times are clamped.
    mtime: new Date(clamp(entry.mtime, 0, OCTAL_11_LIMIT - 1) * 1000),
    type: entry.type,
    linkname: entry.type === 'symlink' ? entry.target : '',
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
  }
  const pax = paxRecords(header)

  if (pax !== undefined) {
    header.pax = pax
  }

  return header
}

/** The bytes this entry takes in the archive: headers, pax records and padded contents. */
export function tarEntryBytes(header: TarHeader): number {
  const body = padded(header.size)

  if (header.pax === undefined) {
    return BLOCK_BYTES + body
  }

  return BLOCK_BYTES + padded(paxBlock(header).length) + BLOCK_BYTES + body
}

/**
 * The extended header's data as tar-stream writes it: `path`, then `linkpath`, then our own
 * records, each "<length> <key>=<value>\n" where length counts the whole record (POSIX.1-2001,
 * pax "extended header" format).
 */
export function paxBlock(header: TarHeader): Buffer {
  let text = paxRecord('path', header.name)

  if (header.linkname) {
    text += paxRecord('linkpath', header.linkname)
  }

  for (const [key, value] of Object.entries(header.pax ?? {})) {
    text += paxRecord(key, value)
  }

  return Buffer.from(text, 'utf8')
}

/**
 * Where the ustar headers of entries of 8 GiB and more start. tar-stream fills their size field
 * in GNU base-256; we give it zeros instead, as Python's tarfile does for pax archives: the pax
 * `size` record is what POSIX readers use, and the archive stays plain POSIX.1-2001.
 */
export function largeHeaderOffsets(input: MediumInput): Set<number> {
  const offsets = new Set<number>()
  let offset = 0

  for (const entry of input.manifest.files) {
    const header = tarHeader(entry)

    if (header.size >= OCTAL_11_LIMIT) {
      offsets.add(offset + BLOCK_BYTES + padded(paxBlock(header).length))
    }

    offset += tarEntryBytes(header)
  }

  return offsets
}

/** A copy of a ustar header block with an octal zero size and its checksum made again. */
export function zeroSizeField(block: Uint8Array): Buffer {
  const copy = Buffer.from(block)
  copy.write('00000000000 ', 124, 'latin1')
  copy.fill(0x20, 148, 156)
  let sum = 0

  for (const byte of copy) {
    sum += byte
  }

  // POSIX ustar "chksum": six octal digits, then NUL and space.
  copy.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1')
  return copy
}

function paxRecords(header: TarHeader): Record<string, string> | undefined {
  const large = header.size >= OCTAL_11_LIMIT

  if (!large && fitsUstar(header)) {
    return undefined
  }

  // Readers take the size from this record (the ustar field is zeroed, see zeroSizeField).
  return large ? { size: String(header.size) } : {}
}

/** Mirrors ustar's name/prefix split (155 + 100 bytes, split at a slash) for ASCII names. */
function fitsUstar(header: TarHeader): boolean {
  let name = header.type === 'directory' ? `${header.name}/` : header.name
  let prefix = ''

  if (!isAscii(name) || !isAscii(header.linkname) || header.linkname.length > 100) {
    return false
  }

  while (name.length > 100) {
    const slash = name.indexOf('/')

    if (slash < 0) {
      return false
    }

    prefix += prefix ? `/${name.slice(0, slash)}` : name.slice(0, slash)
    name = name.slice(slash + 1)
  }

  return prefix.length <= 155
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`
  const length = Buffer.byteLength(body)
  let digits = String(length).length

  if (length + digits >= 10 ** digits) {
    digits++
  }

  return `${length + digits}${body}`
}

function padded(size: number): number {
  return Math.ceil(size / BLOCK_BYTES) * BLOCK_BYTES
}

function isAscii(text: string): boolean {
  // Printable ASCII only; anything else goes into a pax record.
  return /^[\x20-\x7e]*$/.test(text)
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value))
}
