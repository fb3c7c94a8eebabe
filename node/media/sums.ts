import { IntegrityError } from '../../protocol/errors.ts'
import { comparePaths } from '../../protocol/manifest.ts'

// Checksum files in the format of GNU coreutils' sha256sum and b3sum: one line per file,
// "<hex>  <name>\n" (two spaces: text mode, which on POSIX reads the same bytes as binary),
// sorted by name, so that `sha256sum -c SHA256SUMS` checks a downloaded medium.

export const SHA256SUMS = 'SHA256SUMS'
export const BLAKE3SUMS = 'BLAKE3SUMS'
export const SIGNATURE = 'SHA256SUMS.sig'
export const SUMS_FILES = [SHA256SUMS, BLAKE3SUMS, SIGNATURE]

export function formatSums(sums: ReadonlyMap<string, string>): Buffer {
  const names = [...sums.keys()].sort(comparePaths)
  return Buffer.from(names.map((name) => `${sums.get(name)}  ${name}\n`).join(''), 'utf8')
}

export function parseSums(text: Buffer, file: string, hexLength: number): Map<string, string> {
  const sums = new Map<string, string>()
  const pattern = new RegExp(`^([0-9a-f]{${hexLength}})  ([^/\\n]+)$`)

  for (const line of text.toString('utf8').split('\n')) {
    if (line === '') {
      continue
    }

    const match = pattern.exec(line)
    if (match === null || sums.has(match[2])) {
      throw new IntegrityError('MEDIA_SUMS_MALFORMED', `${file} has a malformed line: ${line}`)
    }

    sums.set(match[2], match[1])
  }

  return sums
}
