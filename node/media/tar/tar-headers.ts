import type { Header } from 'tar-stream'
import type { ManifestEntry } from '../../../protocol/manifest.ts'

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

function paxRecords(header: TarHeader): Record<string, string> | undefined {
  const large = header.size >= OCTAL_11_LIMIT

  if (!large && fitsUstar(header)) {
    return undefined
  }

  // Readers take the size from this record; tar-stream still fills the ustar field (in GNU
  // base-256 when it does not fit), which pax readers ignore.
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
