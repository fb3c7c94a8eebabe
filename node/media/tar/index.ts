import { once } from 'node:events'
import { pipeline, Readable } from 'node:stream'
import { createGzip } from 'node:zlib'
import { pack, type Pack } from 'tar-stream'
import type { FileEntry } from '../../../protocol/manifest.ts'
import type { Medium, MediumFile, MediumInput } from '../medium.ts'
import {
  BLOCK_BYTES,
  END_BYTES,
  largeHeaderOffsets,
  tarEntryBytes,
  tarHeader,
  zeroSizeField,
} from './tar-headers.ts'

// The tar medium: one POSIX tar archive (pax where ustar falls short), optionally gzip. The
// archive is reproducible: entries in manifest order, modes and times from the manifest, owner
// 0:0 without names, and gzip's header time left at zero by zlib.

export interface TarOptions {
  /** File name without extension; `.tar` or `.tar.gz` is added. */
  name: string
  gzip?: boolean
  /** zlib level for gzip (default 6, as gzip(1)). */
  gzipLevel?: number
}

export function tarMedium(input: MediumInput, options: TarOptions): Medium {
  const gzip = options.gzip ?? false
  const file: MediumFile = {
    name: `${options.name}${gzip ? '.tar.gz' : '.tar'}`,
    size: gzip ? undefined : tarSize(input),
    bytes: (signal) => (gzip ? gzipped(tarBytes(input, signal), options) : tarBytes(input, signal)),
  }

  return { kind: 'tar', files: [file] }
}

/** The plain archive's exact size: every header and record is fixed by the manifest. */
export function tarSize(input: MediumInput): number {
  let total = END_BYTES

  for (const entry of input.manifest.files) {
    total += tarEntryBytes(tarHeader(entry))
  }

  return total
}

/** The archive's bytes; tar-stream's own backpressure bounds the memory in flight. */
export async function* tarBytes(
  input: MediumInput,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const archive = pack()
  const feeding = feed(archive, input, signal).catch((err) => archive.destroy(err))
  const largeHeaders = largeHeaderOffsets(input)
  let offset = 0

  try {
    for await (const bytes of archive) {
      const piece = bytes as Uint8Array
      yield largeHeaders.has(offset) && piece.length === BLOCK_BYTES ? zeroSizeField(piece) : piece
      offset += piece.length
    }
  } finally {
    archive.destroy()
    await feeding
  }
}

async function feed(archive: Pack, input: MediumInput, signal?: AbortSignal): Promise<void> {
  for (const entry of input.manifest.files) {
    signal?.throwIfAborted()
    const header = tarHeader(entry)

    if (entry.type !== 'file') {
      archive.entry(header)
      continue
    }

    await feedFile(archive, header, entry, input, signal)
  }

  archive.finalize()
}

async function feedFile(
  archive: Pack,
  header: ReturnType<typeof tarHeader>,
  entry: FileEntry,
  input: MediumInput,
  signal?: AbortSignal,
): Promise<void> {
  const sink = archive.entry(header)
  const closed = once(sink, 'close')

  for await (const bytes of input.source.read(entry, signal)) {
    if (!sink.write(bytes)) {
      await Promise.race([once(sink, 'drain'), closed])
    }

    if (sink.destroyed) {
      throw new Error('tar archive closed while writing')
    }
  }

  sink.end(Buffer.alloc(0))
  await closed
}

/** gzip (RFC 1952) of the archive; errors on either side surface through the returned stream. */
function gzipped(bytes: AsyncIterable<Uint8Array>, options: TarOptions): AsyncIterable<Uint8Array> {
  const zip = createGzip({ level: options.gzipLevel ?? 6 })
  pipeline(Readable.from(bytes), zip, () => undefined)
  return zip
}
