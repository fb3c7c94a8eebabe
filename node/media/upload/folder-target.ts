import { randomBytes } from 'node:crypto'
import { type FileHandle, mkdir, open, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { IntegrityError, PressmeshError } from '../../../protocol/errors.ts'
import { release } from '../buffer-pool.ts'
import { DigestTap, type FileDigest, tapped } from '../digest-tap.ts'
import type { MediumFile } from '../medium.ts'
import type { MediaTarget, StoreOptions } from './target.ts'

// A folder as the media server: each file is written under a hidden temporary name and renamed
// into place once complete and of the announced size, so a reader (or a crash) never finds a
// partial file under the final name.

export interface FolderTargetInit {
  dir: string
  /** fsync each file before the rename (slower; survives power loss). */
  fsync?: boolean
}

/** Pieces are gathered into writes of about this size: tar headers come 512 bytes at a time. */
const WRITE_BYTES = 1024 * 1024

export function folderTarget(init: FolderTargetInit): MediaTarget {
  return {
    location: init.dir,
    store: (file, options) => storeInFolder(init, file, options),
  }
}

async function storeInFolder(
  init: FolderTargetInit,
  file: MediumFile,
  options: StoreOptions = {},
): Promise<FileDigest> {
  await mkdir(init.dir, { recursive: true })
  const final = join(init.dir, file.name)
  const tmp = join(init.dir, `.${file.name}.partial-${randomBytes(4).toString('hex')}`)
  const handle = await open(tmp, 'wx', 0o644)

  try {
    const tap = new DigestTap(options.hashWorker)
    await writeAll(handle, tapped(file.bytes(options.signal), tap, options.onBytes))
    const digest = await tap.digest()
    checkSize(file, digest)

    if (init.fsync) {
      await handle.sync()
    }

    await handle.close()
    await rename(tmp, final)
    return digest
  } catch (err) {
    await handle.close().catch(() => undefined)
    await rm(tmp, { force: true })
    throw err
  }
}

/**
 * Gathers pieces into large writes and keeps one write in flight while the next gathers. Pooled
 * pieces (buffer-pool.ts) are released once written.
 */
async function writeAll(handle: FileHandle, bytes: AsyncIterable<Uint8Array>): Promise<void> {
  let batch: Uint8Array[] = []
  let batchBytes = 0
  let writing: Promise<unknown> = Promise.resolve()

  try {
    for await (const piece of bytes) {
      batch.push(piece)
      batchBytes += piece.length

      if (batchBytes >= WRITE_BYTES) {
        await writing
        writing = writeBatch(handle, batch, batchBytes)
        batch = []
        batchBytes = 0
      }
    }

    await writing
    if (batch.length > 0) {
      await writeBatch(handle, batch, batchBytes)
    }
  } finally {
    await writing.catch(() => undefined)
  }
}

async function writeBatch(handle: FileHandle, batch: Uint8Array[], bytes: number): Promise<void> {
  const { bytesWritten } = await handle.writev(batch as NodeJS.ArrayBufferView[])

  // libuv writes the rest of a short write itself; a shortfall left is a failed write.
  if (bytesWritten !== bytes) {
    throw new PressmeshError(
      'MEDIA_WRITE_SHORT',
      `wrote ${bytesWritten} of ${bytes} bytes; is the disk full?`,
    )
  }

  for (const piece of batch) {
    release(piece)
  }
}

export function checkSize(file: MediumFile, digest: FileDigest): void {
  if (file.size !== undefined && digest.size !== file.size) {
    throw new IntegrityError(
      'MEDIA_SIZE_MISMATCH',
      `${file.name} came out ${digest.size} bytes, its layout announced ${file.size}`,
    )
  }
}
