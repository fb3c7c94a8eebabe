import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { type IncomingMessage, request } from 'node:http'
import { request as requestTls } from 'node:https'
import { IntegrityError, PressmeshError } from '../../../protocol/errors.ts'
import { type Logger, logger } from '../../../protocol/logger.ts'
import { release } from '../buffer-pool.ts'
import { DigestTap, type FileDigest, tapped } from '../digest-tap.ts'
import type { MediumFile } from '../medium.ts'
import { checkSize } from './folder-target.ts'
import { DEFAULT_RETRY, type RetryInit, withRetry } from './retry.ts'
import type { MediaTarget, StoreOptions } from './target.ts'

// An HTTP media server that speaks WebDAV (RFC 4918), e.g. nginx's dav module. Each file is
// PUT under a hidden temporary name, read back with GET and hashed, and only then MOVEd to its
// final name (Overwrite: T). A failed or interrupted attempt deletes its temporary file; the
// final name is only ever written by a MOVE of checked bytes. Network errors, 5xx answers and
// a read-back that does not match are retried with backoff; a failing source is not.

export interface DavTargetInit {
  /** The collection media go into, e.g. `http://media.example/releases/product-1.0/`. */
  url: string
  retry?: RetryInit
  /** Read every file back and hash it (default) or trust a matching Content-Length. */
  verify?: 'hash' | 'size'
  log?: Logger
}

interface Reply {
  status: number
  body: IncomingMessage
}

/** Errors thrown by the bytes' producer, which a retry would only repeat. */
const sourceErrors = new WeakSet<object>()

export function davTarget(init: DavTargetInit): MediaTarget {
  const base = new URL(init.url.endsWith('/') ? init.url : `${init.url}/`)
  const log = init.log ?? logger('media:upload')

  return {
    location: base.href,
    store: async (file, options = {}) => {
      const { value } = await withRetry(() => attemptUpload(base, init, file, options), {
        retry: { ...DEFAULT_RETRY, ...init.retry },
        transient: (err) => isTransient(err),
        log,
        what: `upload of ${file.name} to ${base.href}`,
        signal: options.signal,
      })

      return value
    },
  }
}

async function attemptUpload(
  base: URL,
  init: DavTargetInit,
  file: MediumFile,
  options: StoreOptions,
): Promise<FileDigest> {
  const temporary = new URL(`.${file.name}.upload-${randomBytes(4).toString('hex')}`, base)
  const final = new URL(encodeURIComponent(file.name), base)

  try {
    const digest = await put(temporary, file, options)
    await checkRemote(temporary, file, digest, init.verify ?? 'hash', options.signal)
    const moved = await send('MOVE', temporary, {
      headers: { destination: final.href, overwrite: 'T' },
      signal: options.signal,
    })
    await expect(moved, [201, 204], `MOVE ${temporary.pathname}`)
    return digest
  } catch (err) {
    await send('DELETE', temporary, { timeoutMs: 2000 })
      .then((reply) => reply.body.resume())
      .catch(() => undefined)
    throw err
  }
}

async function put(url: URL, file: MediumFile, options: StoreOptions): Promise<FileDigest> {
  const tap = new DigestTap(options.hashWorker)
  const headers: Record<string, string> =
    file.size === undefined
      ? { 'transfer-encoding': 'chunked' }
      : { 'content-length': String(file.size) }
  const req = (url.protocol === 'https:' ? requestTls : request)(url, {
    method: 'PUT',
    headers,
    signal: options.signal,
  })
  const replied = once(req, 'response') as Promise<[IncomingMessage]>
  let answered = false
  replied.then(() => (answered = true)).catch(() => undefined)

  try {
    for await (const piece of sourceMarked(
      tapped(file.bytes(options.signal), tap, options.onBytes),
    )) {
      // Pooled memory (buffer-pool.ts) is released once the socket is done with it.
      if (!req.write(piece, () => release(piece))) {
        await Promise.race([once(req, 'drain'), replied])
      }

      // The server answered before the body ended (an error status): stop sending.
      if (answered) {
        break
      }
    }
  } catch (err) {
    req.destroy()
    throw err
  }

  req.end()
  const [body] = await replied
  await expect({ status: body.statusCode ?? 0, body }, [200, 201, 204], `PUT ${url.pathname}`)
  const digest = await tap.digest()
  checkSize(file, digest)
  return digest
}

async function checkRemote(
  url: URL,
  file: MediumFile,
  sent: FileDigest,
  mode: 'hash' | 'size',
  signal?: AbortSignal,
): Promise<void> {
  const reply = await send(mode === 'hash' ? 'GET' : 'HEAD', url, { signal })
  const length = Number(reply.body.headers['content-length'] ?? Number.NaN)
  let matches = reply.status === 200 && length === sent.size

  if (mode === 'hash' && matches) {
    const tap = new DigestTap()
    for await (const piece of reply.body) {
      tap.update(piece as Buffer)
    }

    const stored = await tap.digest()
    matches = stored.size === sent.size && stored.sha256 === sent.sha256
  } else {
    reply.body.resume()
  }

  if (!matches) {
    throw new IntegrityError(
      'UPLOAD_VERIFY_FAILED',
      `${file.name} read back from ${url.origin} does not match what was sent`,
    )
  }
}

async function send(
  method: string,
  url: URL,
  options: { headers?: Record<string, string>; signal?: AbortSignal; timeoutMs?: number },
): Promise<Reply> {
  const req = (url.protocol === 'https:' ? requestTls : request)(url, {
    method,
    headers: options.headers,
    signal: options.signal,
    timeout: options.timeoutMs,
  })
  req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname} timed out`)))
  req.end()
  const [body] = (await once(req, 'response')) as [IncomingMessage]
  return { status: body.statusCode ?? 0, body }
}

async function expect(reply: Reply, statuses: number[], what: string): Promise<void> {
  if (statuses.includes(reply.status)) {
    reply.body.resume()
    return
  }

  let text = ''
  for await (const piece of reply.body) {
    text += text.length < 200 ? piece.toString() : ''
  }

  throw new PressmeshError(
    'UPLOAD_HTTP_STATUS',
    `${what} answered ${reply.status}: ${text
      .replace(/<[^>]*>|\s+/g, ' ')
      .trim()
      .slice(0, 120)}`,
    { cause: { status: reply.status } },
  )
}

async function* sourceMarked(bytes: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* bytes
  } catch (err) {
    if (typeof err === 'object' && err !== null) {
      sourceErrors.add(err)
    }

    throw err
  }
}

function isTransient(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || sourceErrors.has(err)) {
    return false
  }

  if ((err as Error).name === 'AbortError') {
    return false
  }

  if (err instanceof PressmeshError) {
    const status = (err.cause as { status?: number } | undefined)?.status ?? 0
    return err.code === 'UPLOAD_VERIFY_FAILED' || status >= 500 || status === 408 || status === 429
  }

  // Connection refused or reset, a socket hang-up: the server went away and may come back.
  return true
}
