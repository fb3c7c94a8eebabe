import { SECTOR_BYTES } from './constants.ts'

// Field encodings shared by the volume descriptors, directory records and path tables.

/** ECMA-119 7.2.3: a 16-bit number recorded little-endian, then big-endian. */
export function writeBoth16(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt16LE(value, offset)
  buf.writeUInt16BE(value, offset + 2)
}

/** ECMA-119 7.3.3: a 32-bit number recorded little-endian, then big-endian. */
export function writeBoth32(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32LE(value, offset)
  buf.writeUInt32BE(value, offset + 4)
}

export function sectorsFor(bytes: number): number {
  return Math.ceil(bytes / SECTOR_BYTES)
}

/** Calendar fields of a Unix time in UTC, clamped into the years a format can record. */
function utcFields(seconds: number, minYear: number, maxYear: number): number[] {
  const low = Date.UTC(minYear, 0, 1, 0, 0, 0)
  const high = Date.UTC(maxYear, 11, 31, 23, 59, 59)
  const date = new Date(Math.min(Math.max(seconds * 1000, low), high))

  return [
    date.getUTCFullYear(),
    date.getUTCMonth() + 1,
    date.getUTCDate(),
    date.getUTCHours(),
    date.getUTCMinutes(),
    date.getUTCSeconds(),
  ]
}

/** ECMA-119 9.1.5: seven bytes, years since 1900, in UTC (offset 0); also RRIP TF's format. */
export function recordDate(seconds: number): Buffer {
  const [year, month, day, hour, minute, second] = utcFields(seconds, 1900, 2155)
  return Buffer.from([year - 1900, month, day, hour, minute, second, 0])
}

/** ECMA-119 8.4.26.1: seventeen bytes, "YYYYMMDDHHMMSScc" in digits and a zero UTC offset. */
export function volumeDate(seconds: number): Buffer {
  const fields = utcFields(seconds, 1, 9999)
  const digits = fields.map((value, i) => String(value).padStart(i === 0 ? 4 : 2, '0')).join('')
  return Buffer.concat([Buffer.from(`${digits}00`, 'latin1'), Buffer.from([0])])
}

/** ECMA-119 8.4.26.2: a date that is not specified, all digits zero. */
export function unspecifiedDate(): Buffer {
  return Buffer.concat([Buffer.from('0'.repeat(16), 'latin1'), Buffer.from([0])])
}

/** ECMA-119 7.4.1: d-characters are A-Z, 0-9 and "_"; anything else becomes "_". */
export function dCharacters(text: string): string {
  return Array.from(text.toUpperCase(), (c) => (/^[A-Z0-9_]$/.test(c) ? c : '_')).join('')
}

/** ECMA-119 7.4.1: a-characters add space and !"%&'()*+,-./:;<=>? to the d-characters. */
export function aCharacters(text: string): string {
  return Array.from(text.toUpperCase(), (c) =>
    /^[A-Z0-9_ !"%&'()*+,\-./:;<=>?]$/.test(c) ? c : '_',
  ).join('')
}

/** A text field padded with spaces (ECMA-119 8.4.5 and others); longer text is cut. */
export function paddedAscii(text: string, length: number): Buffer {
  return Buffer.from(text.slice(0, length).padEnd(length, ' '), 'latin1')
}

/** UCS-2 big-endian as Joliet records it; characters outside the BMP keep their surrogates. */
export function ucs2(text: string): Buffer {
  const buf = Buffer.from(text, 'utf16le')
  return buf.swap16()
}

/** A Joliet text field: UCS-2 padded with UCS-2 spaces, cut on a character boundary. */
export function paddedUcs2(text: string, bytes: number): Buffer {
  const out = Buffer.alloc(bytes)

  for (let i = 0; i + 1 < bytes; i += 2) {
    out.writeUInt16BE(0x20, i)
  }

  ucs2(cutUnits(text, bytes >> 1)).copy(out)
  return out
}

/** The first `units` UTF-16 code units of a text, never splitting a surrogate pair. */
export function cutUnits(text: string, units: number): string {
  if (text.length <= units) {
    return text
  }

  const code = text.charCodeAt(units - 1)
  const end = code >= 0xd800 && code <= 0xdbff ? units - 1 : units
  return text.slice(0, end)
}
