import type { Stats } from 'node:fs'
import { type FileHandle, lstat, open, readdir, readFile, readlink, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { ChunkData } from './chunker/chunker.ts'
import { digestStream, MAX_PENDING_CHUNKS } from './chunker/digest.ts'
import { type ChunkerParams, chunkerParams } from './chunker/params.ts'
import { ReadRing, ringCapacity } from './chunker/read-ring.ts'
import type { HashWorker } from './chunker/whole-hash.ts'
import { InvalidInputError, NotFoundError, PressmeshError } from './errors.ts'
import {
  checkPath,
  comparePaths,
  type Manifest,
  type ManifestEntry,
  MAX_MANIFEST_BYTES,
  type ManifestSummary,
  MANIFEST_VERSION,
  parseManifest,
  type ParsedManifest,
  sealManifest,
  summarizeManifest,
} from './manifest.ts'

// Indexing a master that sits in a local folder (or is a single local file): walk it, then read
// every file once, chunking and hashing as the bytes go by.

export const READ_BUFFER_BYTES = 4 * 1024 * 1024
/** Files at least this large have their whole-file digests computed on the worker, if given. */
export const WORKER_MIN_BYTES = 8 * 1024 * 1024

export interface IndexInit {
  chunker?: ChunkerParams
  /** Receives every chunk's bytes, e.g. to put them into a chunk store. */
  onChunk?: (chunk: ChunkData) => unknown
  /** Bytes read so far and in all. */
  onProgress?: (done: number, total: number) => void
  hashWorker?: HashWorker
  bufferSize?: number
  signal?: AbortSignal
}

export interface IndexResult extends ParsedManifest {
  summary: ManifestSummary
}

interface WalkedFile {
  entry: Omit<ManifestEntry, 'type'> & { type: 'file' }
  absolute: string
  size: number
}

export async function indexLocalMaster(root: string, init: IndexInit = {}): Promise<IndexResult> {
  const params = init.chunker ?? chunkerParams()
  const { entries, files } = await walkMaster(root)
  const total = files.reduce((sum, file) => sum + file.size, 0)
  const readBytes = init.bufferSize ?? READ_BUFFER_BYTES
  const ring = new ReadRing(ringCapacity(params.maxSize, readBytes, MAX_PENDING_CHUNKS))
  let done = 0

  for (const file of files) {
    init.signal?.throwIfAborted()

    const digest = await digestLocalFile(file.absolute, file.size, params, ring, {
      ...init,
      onBytes: (bytes) => {
        done += bytes
        init.onProgress?.(done, total)
      },
    })

    entries.push({ ...file.entry, ...digest })
  }

  const manifest: Manifest = { version: MANIFEST_VERSION, chunker: params, files: entries }
  const sealed = sealManifest(manifest)

  return { ...sealed, summary: summarizeManifest(sealed.manifest) }
}

/** Lists the master: folders and links as entries, files to be read, all sorted by path. */
export async function walkMaster(
  root: string,
): Promise<{ entries: ManifestEntry[]; files: WalkedFile[] }> {
  const top = await statRoot(root)
  const entries: ManifestEntry[] = []
  const files: WalkedFile[] = []

  if (top.isFile()) {
    const path = basename(root)
    checkPath(path)
    files.push(walkedFile(path, root, top))
    return { entries, files }
  }

  if (!top.isDirectory()) {
    throw unsupported(root)
  }

  await walkFolder(root, '', entries, files)
  entries.sort((a, b) => comparePaths(a.path, b.path))

  return { entries, files }
}

async function walkFolder(
  absolute: string,
  relative: string,
  entries: ManifestEntry[],
  files: WalkedFile[],
): Promise<void> {
  const names = (await readdir(absolute).catch((err) => rethrow(err, absolute))).sort(comparePaths)

  for (const name of names) {
    const childAbsolute = join(absolute, name)
    const path = relative === '' ? name : `${relative}/${name}`
    const info = await lstat(childAbsolute).catch((err) => rethrow(err, childAbsolute))
    checkPath(path)

    const meta = { path, mode: info.mode & 0o7777, mtime: Math.floor(info.mtimeMs / 1000) }

    if (info.isDirectory()) {
      entries.push({ ...meta, type: 'directory' })
      await walkFolder(childAbsolute, path, entries, files)
    } else if (info.isSymbolicLink()) {
      const target = await readlink(childAbsolute).catch((err) => rethrow(err, childAbsolute))
      entries.push({ ...meta, type: 'symlink', target })
    } else if (info.isFile()) {
      files.push(walkedFile(path, childAbsolute, info))
    } else {
      throw unsupported(childAbsolute)
    }
  }
}

function walkedFile(path: string, absolute: string, info: Stats): WalkedFile {
  return {
    entry: { path, type: 'file', mode: info.mode & 0o7777, mtime: Math.floor(info.mtimeMs / 1000) },
    absolute,
    size: info.size,
  }
}

async function statRoot(root: string): Promise<Stats> {
  try {
    return await stat(root)
  } catch (err) {
    return rethrow(err, root)
  }
}

async function digestLocalFile(
  absolute: string,
  expectedSize: number,
  params: ChunkerParams,
  ring: ReadRing,
  init: IndexInit & { onBytes: (bytes: number) => void },
) {
  const handle = await open(absolute, 'r').catch((err) => rethrow(err, absolute))

  try {
    const before = await handle.stat()
    if (before.size !== expectedSize) {
      throw changed(absolute)
    }

    const hasher =
      init.hashWorker !== undefined && before.size >= WORKER_MIN_BYTES
        ? init.hashWorker.open()
        : undefined
    const source = ring.readFile(handle, before.size, init.bufferSize ?? READ_BUFFER_BYTES)
    const release = (offset: number) => ring.release(offset)
    const digest = await digestStream(source, params, { ...init, hasher, release })

    const after = await handle.stat()
    if (
      digest.size !== before.size ||
      after.size !== before.size ||
      after.mtimeMs !== before.mtimeMs
    ) {
      throw changed(absolute)
    }

    return {
      size: digest.size,
      blake3: digest.blake3,
      sha256: digest.sha256,
      chunks: digest.chunks,
    }
  } finally {
    await handle.close()
  }
}

/**
 * Reads a file into fresh buffers backed by SharedArrayBuffers, so that a hashing worker can see
 * them without a copy. Reads at most one byte past the expected size, to notice growth.
 */
export async function* readBuffers(
  handle: FileHandle,
  expectedSize: number,
  bufferSize: number,
): AsyncGenerator<Uint8Array> {
  let position = 0

  while (true) {
    const want = Math.max(1, Math.min(bufferSize, expectedSize - position + 1))
    const buf = new Uint8Array(new SharedArrayBuffer(want))
    const { bytesRead } = await handle.read(buf, 0, want, position)

    if (bytesRead === 0) {
      return
    }

    position += bytesRead
    yield bytesRead === want ? buf : buf.subarray(0, bytesRead)
  }
}

function changed(path: string): PressmeshError {
  return new PressmeshError(
    'INDEX_FILE_CHANGED',
    `${path} changed while it was read; index it again once it is complete`,
  )
}

function unsupported(path: string): PressmeshError {
  return new InvalidInputError(
    'INDEX_UNSUPPORTED_FILE',
    `${path} is not a regular file, folder or symbolic link; remove it from the master`,
  )
}

function rethrow(err: unknown, path: string): never {
  const code = (err as NodeJS.ErrnoException).code

  if (code === 'ENOENT') {
    throw new NotFoundError('INDEX_NOT_FOUND', `no such file or folder: ${path}`, { cause: err })
  }

  if (code === 'EACCES' || code === 'EPERM') {
    throw new PressmeshError('INDEX_UNREADABLE', `permission denied reading ${path}`, {
      cause: err,
    })
  }

  if (code === 'ENOTDIR' || code === 'EISDIR' || code === 'ELOOP') {
    throw new PressmeshError('INDEX_UNREADABLE', `cannot read ${path} (${code})`, { cause: err })
  }

  throw err
}

/** Reads and parses a manifest file, refusing oversize files before reading them. */
export async function readLocalManifest(path: string): Promise<ParsedManifest> {
  const info = await stat(path).catch((err) => rethrow(err, path))

  if (info.size > MAX_MANIFEST_BYTES) {
    throw new InvalidInputError(
      'MANIFEST_TOO_LARGE',
      `${path} is ${info.size} bytes; a manifest is at most ${MAX_MANIFEST_BYTES}`,
    )
  }

  return parseManifest(await readFile(path).catch((err) => rethrow(err, path)))
}
