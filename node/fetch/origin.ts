import { open, stat } from 'node:fs/promises'
import { basename } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChunkData } from '../../protocol/chunker/chunker.ts'
import { digestStream } from '../../protocol/chunker/digest.ts'
import type { ChunkerParams } from '../../protocol/chunker/params.ts'
import { MANIFEST_SUFFIX } from '../../protocol/constants.ts'
import { InvalidInputError, NotFoundError, PressmeshError } from '../../protocol/errors.ts'
import { indexLocalMaster, readLocalManifest } from '../../protocol/local-master.ts'
import {
  type Manifest,
  type ManifestEntry,
  MAX_MANIFEST_BYTES,
  MANIFEST_VERSION,
  type ParsedManifest,
  parseManifest,
  sealManifest,
} from '../../protocol/manifest.ts'
import { httpGet, readPieces } from './http-get.ts'

// Storage servers. A master is named by URL: an HTTP(S) file, an HTTP folder (ending in `/`,
// listed through nginx's JSON autoindex), or a local file or folder (`file://`). A manifest
// written by `pressmesh index` may sit beside it, under the master's URL plus `.pressmesh.json`.

export interface Origin {
  readonly url: string
  /** The precomputed manifest beside the master, if there is one. */
  manifestBeside(signal?: AbortSignal): Promise<ParsedManifest | undefined>
  /** Bytes [offset, offset + length) of one file of the master (a manifest path), in pieces. */
  readRange(
    path: string,
    offset: number,
    length: number,
    signal?: AbortSignal,
  ): Promise<Uint8Array[]>
  /** Streams the whole master once, chunking it; every chunk goes to `onChunk`. */
  index(
    params: ChunkerParams,
    onChunk: (chunk: ChunkData) => unknown,
    signal?: AbortSignal,
  ): Promise<ParsedManifest>
}

export interface OriginInit {
  /** Called with every byte count read from the origin. */
  onBytes?: (bytes: number) => void
}

const REQUEST_TIMEOUT_MS = 60_000
/** Largest JSON folder listing read from a storage server. */
const MAX_LISTING_BYTES = 16 * 1024 * 1024

export function openOrigin(url: string, init: OriginInit = {}): Origin {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (err) {
    throw new InvalidInputError('ORIGIN_BAD_URL', `"${url}" is not a URL`, { cause: err })
  }

  if (parsed.protocol === 'file:') {
    return new FileOrigin(url, fileURLToPath(parsed), init)
  }

  if (parsed.protocol === 'http:' || parsed.protocol === 'https:') {
    return new HttpOrigin(url, init)
  }

  throw new InvalidInputError(
    'ORIGIN_BAD_URL',
    `unsupported origin "${parsed.protocol}": use http://, https:// or file://`,
  )
}

class FileOrigin implements Origin {
  constructor(
    readonly url: string,
    private readonly path: string,
    private readonly init: OriginInit,
  ) {}

  async manifestBeside(): Promise<ParsedManifest | undefined> {
    const beside = `${this.path.replace(/\/+$/, '')}${MANIFEST_SUFFIX}`
    const exists = await stat(beside).then(
      () => true,
      () => false,
    )
    return exists ? readLocalManifest(beside) : undefined
  }

  async readRange(path: string, offset: number, length: number): Promise<Uint8Array[]> {
    const info = await stat(this.path)
    const file = info.isDirectory() ? `${this.path}/${path}` : this.path
    const handle = await open(file, 'r')

    try {
      const bytes = Buffer.allocUnsafe(length)
      const { bytesRead } = await handle.read(bytes, 0, length, offset)

      if (bytesRead !== length) {
        throw new PressmeshError(
          'ORIGIN_SHORT_READ',
          `${file} ended before byte ${offset + length}`,
        )
      }

      this.init.onBytes?.(length)
      return [bytes]
    } finally {
      await handle.close()
    }
  }

  async index(params: ChunkerParams, onChunk: (chunk: ChunkData) => unknown, signal?: AbortSignal) {
    const result = await indexLocalMaster(this.path, {
      chunker: params,
      onChunk,
      signal,
      onProgress: (() => {
        let last = 0
        return (done: number) => {
          this.init.onBytes?.(done - last)
          last = done
        }
      })(),
    })

    return { manifest: result.manifest, id: result.id, bytes: result.bytes }
  }
}

interface ListingEntry {
  name: string
  type: 'file' | 'directory' | 'other'
  size?: number
  mtime?: string
}

class HttpOrigin implements Origin {
  private readonly folder: boolean

  constructor(
    readonly url: string,
    private readonly init: OriginInit,
  ) {
    this.folder = url.endsWith('/')
  }

  async manifestBeside(signal?: AbortSignal): Promise<ParsedManifest | undefined> {
    const response = await this.get(`${this.url.replace(/\/+$/, '')}${MANIFEST_SUFFIX}`, signal)

    if (response.status === 404) {
      response.message.resume()
      return undefined
    }

    if (response.status !== 200) {
      response.message.resume()
      throw new PressmeshError('ORIGIN_HTTP', `${response.url} answered ${response.status}`)
    }

    return parseManifest(Buffer.concat(await readPieces(response, MAX_MANIFEST_BYTES)))
  }

  async readRange(path: string, offset: number, length: number, signal?: AbortSignal) {
    const response = await this.get(this.fileUrl(path), signal, {
      range: `bytes=${offset}-${offset + length - 1}`,
    })

    if (response.status === 404) {
      response.message.resume()
      throw new NotFoundError('ORIGIN_NOT_FOUND', `${response.url} does not exist`)
    }

    if (response.status !== 206) {
      response.message.resume()
      throw new PressmeshError(
        'ORIGIN_NO_RANGE',
        `${response.url} answered ${response.status} to a range request; the storage ` +
          'server must support HTTP Range (RFC 9110, section 14)',
      )
    }

    const pieces = await readPieces(response, length)
    const size = pieces.reduce((sum, piece) => sum + piece.length, 0)
    if (size !== length) {
      throw new PressmeshError(
        'ORIGIN_SHORT_READ',
        `${response.url} sent ${size} of ${length} bytes`,
      )
    }

    this.init.onBytes?.(length)
    return pieces
  }

  async index(params: ChunkerParams, onChunk: (chunk: ChunkData) => unknown, signal?: AbortSignal) {
    const entries: ManifestEntry[] = []
    const files = this.folder
      ? await this.list('', entries, signal)
      : [{ path: basename(new URL(this.url).pathname), mtime: undefined }]

    for (const file of files) {
      const response = await this.get(this.fileUrl(file.path), signal)
      if (response.status !== 200) {
        response.message.resume()
        throw new PressmeshError('ORIGIN_HTTP', `${response.url} answered ${response.status}`)
      }

      const modified = Date.parse(String(response.headers['last-modified'] ?? ''))
      const source = this.count(response.message)
      const digest = await digestStream(source, params, { onChunk, signal })
      entries.push({
        path: file.path,
        type: 'file',
        mode: 0o644,
        mtime: Math.floor((Number.isNaN(modified) ? 0 : modified) / 1000),
        ...digest,
      })
    }

    const manifest: Manifest = { version: MANIFEST_VERSION, chunker: params, files: entries }
    return sealManifest(manifest)
  }

  /** Walks nginx's JSON autoindex (`autoindex on; autoindex_format json;`). */
  private async list(prefix: string, entries: ManifestEntry[], signal?: AbortSignal) {
    const response = await this.get(`${this.url}${encodePath(prefix)}`, signal)
    if (response.status !== 200) {
      response.message.resume()
      throw new PressmeshError(
        'ORIGIN_NO_LISTING',
        `${this.url}${prefix} answered ${response.status}; a folder master over HTTP needs a ` +
          'manifest beside it or a JSON folder listing (nginx: autoindex_format json)',
      )
    }

    const body = Buffer.concat(await readPieces(response, MAX_LISTING_BYTES))
    const listing = parseListing(body, response.url)
    const files: Array<{ path: string; mtime?: string }> = []

    for (const item of listing) {
      const path = `${prefix}${item.name}`
      const mtime = Math.floor((Date.parse(item.mtime ?? '') || 0) / 1000)

      if (item.type === 'directory') {
        entries.push({ path, type: 'directory', mode: 0o755, mtime })
        files.push(...(await this.list(`${path}/`, entries, signal)))
      } else if (item.type === 'file') {
        files.push({ path, mtime: item.mtime })
      }
    }

    return files
  }

  private fileUrl(path: string): string {
    return this.folder ? `${this.url}${encodePath(path)}` : this.url
  }

  private async get(url: string, signal?: AbortSignal, headers: Record<string, string> = {}) {
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS)

    try {
      return await httpGet(url, {
        headers,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      })
    } catch (err) {
      if (err instanceof PressmeshError) {
        throw err
      }

      throw new PressmeshError('ORIGIN_UNREACHABLE', `cannot reach the storage server at ${url}`, {
        cause: err,
      })
    }
  }

  private async *count(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const bytes of body) {
      this.init.onBytes?.(bytes.length)
      yield bytes
    }
  }
}

/** A folder listing as nginx writes it; anything else is refused with a code. */
function parseListing(body: Buffer, url: string): ListingEntry[] {
  let listing: unknown
  try {
    listing = JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw new PressmeshError('ORIGIN_NO_LISTING', `${url} is not a JSON folder listing`, {
      cause: err,
    })
  }

  if (!Array.isArray(listing)) {
    throw new PressmeshError('ORIGIN_NO_LISTING', `${url} is not a JSON folder listing`)
  }

  return listing as ListingEntry[]
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/')
}
