import { z } from 'zod'
import { canonicalJson } from './canonical-json.ts'
import type { ChunkRef } from './chunker/chunker.ts'
import type { ChunkerParams } from './chunker/params.ts'
import { chunkerParams } from './chunker/params.ts'
import { InvalidInputError, isPressmeshError } from './errors.ts'
import { blake3Hex, type ContentId } from './hash.ts'

// A manifest describes a master: every file, folder and symbolic link below its root, and for
// each file its size, digests and ordered chunk list. Its id is the BLAKE3 of its canonical
// bytes (canonical-json.ts with entries sorted by path), so any two writers that index the same
// tree with the same chunker agree on the id.

export const MANIFEST_VERSION = 1
/** Parsing refuses larger documents: about 400,000 chunks, or 1.6 TB at the default sizes. */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024
export const MAX_PATH_BYTES = 4096
export const MAX_SEGMENT_BYTES = 255

interface EntryBase {
  /** Relative to the master's root, `/`-separated, no `.` or `..` segments. */
  path: string
  /** Permission bits (0 to 0o7777). */
  mode: number
  /** Seconds since the Unix epoch. */
  mtime: number
}

export interface FileEntry extends EntryBase {
  type: 'file'
  size: number
  blake3: ContentId
  sha256: string
  chunks: ChunkRef[]
}

export interface DirectoryEntry extends EntryBase {
  type: 'directory'
}

export interface SymlinkEntry extends EntryBase {
  type: 'symlink'
  target: string
}

export type ManifestEntry = FileEntry | DirectoryEntry | SymlinkEntry

export interface Manifest {
  version: typeof MANIFEST_VERSION
  chunker: ChunkerParams
  files: ManifestEntry[]
}

export interface ParsedManifest {
  manifest: Manifest
  id: ContentId
  /** The canonical bytes the id is computed over. */
  bytes: Buffer
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters')
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
const base = {
  path: z.string().min(1).max(MAX_PATH_BYTES),
  mode: z.number().int().min(0).max(0o7777),
  mtime: z
    .number()
    .int()
    .min(-(2 ** 40))
    .max(2 ** 40),
}

const entrySchema = z.discriminatedUnion('type', [
  z.strictObject({
    ...base,
    type: z.literal('file'),
    size: count,
    blake3: hex64,
    sha256: hex64,
    chunks: z.array(z.strictObject({ id: hex64, size: count.min(1) })),
  }),
  z.strictObject({ ...base, type: z.literal('directory') }),
  z.strictObject({ ...base, type: z.literal('symlink'), target: z.string().min(1).max(4096) }),
])

const manifestSchema = z.strictObject({
  version: z.literal(MANIFEST_VERSION),
  chunker: z.strictObject({
    algorithm: z.literal('fastcdc-2020'),
    normalization: z.number().int(),
    minSize: z.number().int(),
    avgSize: z.number().int(),
    maxSize: z.number().int(),
  }),
  files: z.array(entrySchema),
})

/** Compares paths by their UTF-8 bytes, which is also Unicode code point order. */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

export function canonicalManifestBytes(manifest: Manifest): Buffer {
  const files = [...manifest.files].sort((a, b) => comparePaths(a.path, b.path))
  return Buffer.from(canonicalJson({ ...manifest, files }), 'utf8')
}

export function manifestId(manifest: Manifest): ContentId {
  return blake3Hex(canonicalManifestBytes(manifest))
}

/** Validates a manifest built in this process and returns it with its id and bytes. */
export function sealManifest(manifest: Manifest): ParsedManifest {
  validateManifest(manifest)
  const bytes = canonicalManifestBytes(manifest)
  return { manifest: { ...manifest, files: sortedEntries(manifest) }, id: blake3Hex(bytes), bytes }
}

/** Parses and validates a manifest from outside: a file, a peer, an HTTP body. */
export function parseManifest(input: Uint8Array | string): ParsedManifest {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength

  if (size > MAX_MANIFEST_BYTES) {
    throw new InvalidInputError(
      'MANIFEST_TOO_LARGE',
      `manifest is ${size} bytes; the limit is ${MAX_MANIFEST_BYTES}`,
    )
  }

  const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8')
  let document: unknown

  try {
    document = JSON.parse(text)
  } catch (err) {
    throw new InvalidInputError('MANIFEST_NOT_JSON', 'manifest is not valid JSON', { cause: err })
  }

  const version = (document as { version?: unknown } | null)?.version
  if (version !== MANIFEST_VERSION) {
    throw new InvalidInputError(
      'MANIFEST_UNKNOWN_VERSION',
      `manifest version ${JSON.stringify(version)} is not supported (this build reads version ` +
        `${MANIFEST_VERSION}); upgrade Pressmesh or re-index the master`,
    )
  }

  const checked = manifestSchema.safeParse(document)
  if (!checked.success) {
    const issue = checked.error.issues[0]
    throw new InvalidInputError(
      'MANIFEST_INVALID',
      `manifest field ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    )
  }

  return sealManifest(checked.data as Manifest)
}

/** Throws InvalidInputError with a MANIFEST_* code naming the first problem found. */
export function validateManifest(manifest: Manifest): void {
  let params: ChunkerParams

  try {
    params = chunkerParams(manifest.chunker)
  } catch (err) {
    if (isPressmeshError(err)) {
      throw new InvalidInputError('MANIFEST_BAD_CHUNKER', `manifest chunker: ${err.message}`)
    }

    throw err
  }

  const kinds = new Map<string, ManifestEntry['type']>()
  for (const entry of manifest.files) {
    checkPath(entry.path)

    if (kinds.has(entry.path)) {
      throw new InvalidInputError('MANIFEST_DUPLICATE_PATH', `path "${entry.path}" appears twice`)
    }

    kinds.set(entry.path, entry.type)

    if (entry.type === 'file') {
      checkChunks(entry, params)
    }
  }

  for (const entry of manifest.files) {
    checkParent(entry.path, kinds)
  }
}

function sortedEntries(manifest: Manifest): ManifestEntry[] {
  return [...manifest.files].sort((a, b) => comparePaths(a.path, b.path))
}

/** Throws MANIFEST_ABSOLUTE_PATH, MANIFEST_PARENT_SEGMENT or MANIFEST_BAD_PATH. */
export function checkPath(path: string): void {
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) {
    throw new InvalidInputError('MANIFEST_ABSOLUTE_PATH', `path "${path}" is absolute`)
  }

  if (Buffer.byteLength(path) > MAX_PATH_BYTES) {
    throw new InvalidInputError('MANIFEST_BAD_PATH', `path "${path}" is longer than 4096 bytes`)
  }

  if (path.includes('\u0000') || path.includes('\\')) {
    throw new InvalidInputError(
      'MANIFEST_BAD_PATH',
      `path ${JSON.stringify(path)} contains a NUL or a backslash`,
    )
  }

  for (const segment of path.split('/')) {
    if (segment === '..') {
      throw new InvalidInputError('MANIFEST_PARENT_SEGMENT', `path "${path}" contains ".."`)
    }

    if (segment === '' || segment === '.') {
      throw new InvalidInputError('MANIFEST_BAD_PATH', `path "${path}" has an empty or "." segment`)
    }

    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
      throw new InvalidInputError(
        'MANIFEST_BAD_PATH',
        `path "${path}" has a name longer than ${MAX_SEGMENT_BYTES} bytes`,
      )
    }
  }
}

function checkChunks(entry: FileEntry, params: ChunkerParams): void {
  let total = 0

  entry.chunks.forEach((chunk, i) => {
    const last = i === entry.chunks.length - 1

    if (chunk.size > params.maxSize || (!last && chunk.size < params.minSize - 1)) {
      throw new InvalidInputError(
        'MANIFEST_SIZE_MISMATCH',
        `"${entry.path}" chunk ${i} is ${chunk.size} bytes, outside the chunker's ` +
          `${params.minSize}..${params.maxSize}`,
      )
    }

    total += chunk.size
  })

  if (total !== entry.size) {
    throw new InvalidInputError(
      'MANIFEST_SIZE_MISMATCH',
      `"${entry.path}" is ${entry.size} bytes but its chunks add up to ${total}`,
    )
  }
}

function checkParent(path: string, kinds: Map<string, ManifestEntry['type']>): void {
  const slash = path.lastIndexOf('/')

  if (slash < 0) {
    return
  }

  const parent = path.slice(0, slash)
  const kind = kinds.get(parent)

  if (kind === undefined) {
    throw new InvalidInputError(
      'MANIFEST_MISSING_PARENT',
      `"${path}" is listed but its folder "${parent}" is not`,
    )
  }

  if (kind !== 'directory') {
    throw new InvalidInputError(
      'MANIFEST_PATH_CONFLICT',
      `"${path}" lies below "${parent}", which is a ${kind}, not a folder`,
    )
  }
}

export interface ManifestSummary {
  files: number
  directories: number
  symlinks: number
  bytes: number
  chunks: number
  uniqueChunks: number
  uniqueBytes: number
}

export function summarizeManifest(manifest: Manifest): ManifestSummary {
  const unique = uniqueChunks(manifest)
  const summary: ManifestSummary = {
    files: 0,
    directories: 0,
    symlinks: 0,
    bytes: 0,
    chunks: 0,
    uniqueChunks: unique.size,
    uniqueBytes: 0,
  }

  for (const entry of manifest.files) {
    if (entry.type === 'file') {
      summary.files++
      summary.bytes += entry.size
      summary.chunks += entry.chunks.length
    } else if (entry.type === 'directory') {
      summary.directories++
    } else {
      summary.symlinks++
    }
  }

  for (const size of unique.values()) {
    summary.uniqueBytes += size
  }

  return summary
}

/** Every distinct chunk of a manifest with its size. */
export function uniqueChunks(manifest: Manifest): Map<ContentId, number> {
  const chunks = new Map<ContentId, number>()

  for (const entry of manifest.files) {
    if (entry.type === 'file') {
      for (const chunk of entry.chunks) {
        chunks.set(chunk.id, chunk.size)
      }
    }
  }

  return chunks
}

export interface ManifestDiff {
  /** Distinct chunks of the new manifest that the old one also has. */
  sharedChunks: number
  sharedBytes: number
  /** Distinct chunks, and their bytes, that a holder of the old version must fetch. */
  newChunks: number
  fetchBytes: number
  newTotalBytes: number
}

export function diffManifests(older: Manifest, newer: Manifest): ManifestDiff {
  const old = uniqueChunks(older)
  const diff: ManifestDiff = {
    sharedChunks: 0,
    sharedBytes: 0,
    newChunks: 0,
    fetchBytes: 0,
    newTotalBytes: 0,
  }

  for (const [id, size] of uniqueChunks(newer)) {
    diff.newTotalBytes += size

    if (old.has(id)) {
      diff.sharedChunks++
      diff.sharedBytes += size
    } else {
      diff.newChunks++
      diff.fetchBytes += size
    }
  }

  return diff
}
