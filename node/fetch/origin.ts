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

// Storage servers. A master is named by URL: an HTTP(S) file, an HTTP folder (ending in `/`,
// listed through nginx's JSON autoindex), or a local file or folder (`file://`). A manifest
// written by `pressmesh index` may sit beside it, under the master's URL plus `.pressmesh.json`.

export interface Origin {
  readonly url: string
  /** The precomputed manifest beside the master, if there is one. */
  manifestBeside(signal?: AbortSignal): Promise<ParsedManifest | undefined>
  /** Bytes [offset, offset + length) of one file of the master (a manifest path). */
  readRange(path: string, offset: number, length: number, signal?: AbortSignal): Promise<Buffer>
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

  async readRange(path: string, offset: number, length: number): Promise<Buffer> {
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
      return bytes
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
      await response.body?.cancel()
      return undefined
    }

    if (!response.ok) {
      await response.body?.cancel()
      throw new PressmeshError('ORIGIN_HTTP', `${response.url} answered ${response.status}`)
    }

    const bytes = await readBody(response, MAX_MANIFEST_BYTES)
    return parseManifest(bytes)
  }

  async readRange(path: string, offset: number, length: number, signal?: AbortSignal) {
    const response = await this.get(this.fileUrl(path), signal, {
      range: `bytes=${offset}-${offset + length - 1}`,
    })

    if (response.status !== 206) {
      await response.body?.cancel()
      throw new PressmeshError(
        'ORIGIN_NO_RANGE',
        `${this.fileUrl(path)} answered ${response.status} to a range request; the storage ` +
          'server must support HTTP Range (RFC 9110, section 14)',
      )
    }

    const bytes = await readBody(response, length)
    if (bytes.length !== length) {
      throw new PressmeshError(
        'ORIGIN_SHORT_READ',
        `${this.fileUrl(path)} sent ${bytes.length} of ${length} bytes`,
      )
    }

    this.init.onBytes?.(length)
    return bytes
  }

  async index(params: ChunkerParams, onChunk: (chunk: ChunkData) => unknown, signal?: AbortSignal) {
    const entries: ManifestEntry[] = []
    const files = this.folder
      ? await this.list('', entries, signal)
      : [{ path: basename(new URL(this.url).pathname), mtime: undefined }]

    for (const file of files) {
      const response = await this.get(this.fileUrl(file.path), signal)
      if (!response.ok || response.body === null) {
        throw new PressmeshError(
          'ORIGIN_HTTP',
          `${this.fileUrl(file.path)} answered ${response.status}`,
        )
      }

      const modified = Date.parse(response.headers.get('last-modified') ?? '')
      const source = this.count(response.body)
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
    if (!response.ok) {
      throw new PressmeshError(
        'ORIGIN_NO_LISTING',
        `${this.url}${prefix} answered ${response.status}; a folder master over HTTP needs a ` +
          'manifest beside it or a JSON folder listing (nginx: autoindex_format json)',
      )
    }

    const listing = JSON.parse(
      (await readBody(response, 16 * 1024 * 1024)).toString('utf8'),
    ) as ListingEntry[]
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
      return await fetch(url, {
        headers,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      })
    } catch (err) {
      throw new PressmeshError('ORIGIN_UNREACHABLE', `cannot reach the storage server at ${url}`, {
        cause: err,
      })
    }
  }

  private async *count(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const bytes of iterate(body)) {
      this.init.onBytes?.(bytes.length)
      yield bytes
    }
  }
}

async function readBody(response: Response, limit: number): Promise<Buffer> {
  if (response.status === 404) {
    throw new NotFoundError('ORIGIN_NOT_FOUND', `${response.url} does not exist`)
  }

  const pieces: Uint8Array[] = []
  let size = 0

  for await (const piece of response.body ? iterate(response.body) : []) {
    size += piece.length

    if (size > limit) {
      throw new PressmeshError('ORIGIN_TOO_LARGE', `${response.url} sent more than ${limit} bytes`)
    }

    pieces.push(piece)
  }

  return Buffer.concat(pieces)
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/')
}

/** Node's web streams are async iterable; the DOM typings do not say so. */
function iterate(body: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
  return body as unknown as AsyncIterable<Uint8Array>
}
