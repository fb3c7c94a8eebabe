import { randomBytes } from 'node:crypto'
import { chmod, lstat, lutimes, mkdir, open, rename, rm, symlink, utimes } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { IntegrityError } from '../../protocol/errors.ts'
import type { FileEntry, Manifest } from '../../protocol/manifest.ts'
import type { ChunkStore } from './store.ts'

/** Streams a file's bytes from the store, chunk by chunk, each checked against its id. */
export async function* readStoredFile(
  store: ChunkStore,
  entry: FileEntry,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  for (const chunk of entry.chunks) {
    signal?.throwIfAborted()
    const bytes = await store.get(chunk.id)

    if (bytes.length !== chunk.size) {
      throw new IntegrityError(
        'STORE_CHUNK_SIZE',
        `chunk ${chunk.id} of "${entry.path}" is ${bytes.length} bytes, ` +
          `the manifest says ${chunk.size}`,
      )
    }

    yield bytes
  }
}

/** Writes one file from the store to `dest`, complete or not at all. */
export async function exportFile(
  store: ChunkStore,
  entry: FileEntry,
  dest: string,
  signal?: AbortSignal,
): Promise<void> {
  const tmp = `${dest}.pressmesh-${randomBytes(4).toString('hex')}`
  const handle = await open(tmp, 'wx', 0o600)

  try {
    for await (const bytes of readStoredFile(store, entry, signal)) {
      await handle.write(bytes)
    }

    await handle.close()
    await chmod(tmp, entry.mode)
    await utimes(tmp, entry.mtime, entry.mtime)
    await rename(tmp, dest)
  } catch (err) {
    await handle.close().catch(() => undefined)
    await rm(tmp, { force: true })
    throw err
  }
}

/** Recreates a whole master below `root` from the store: folders, links and files. */
export async function exportMaster(
  store: ChunkStore,
  manifest: Manifest,
  root: string,
  signal?: AbortSignal,
): Promise<void> {
  await mkdir(root, { recursive: true })

  for (const entry of manifest.files) {
    const dest = join(root, ...entry.path.split('/'))
    await mkdir(dirname(dest), { recursive: true })

    if (entry.type === 'directory') {
      await mkdir(dest, { recursive: true })
    } else if (entry.type === 'symlink') {
      await rm(dest, { force: true })
      await symlink(entry.target, dest)
      await lutimes(dest, entry.mtime, entry.mtime)
    } else {
      await exportFile(store, entry, dest, signal)
    }
  }

  // Folder modes and times last: writing into a folder changes its mtime, and a read-only mode
  // would stop the writes. Deepest first, so a parent's time is set after its children's.
  const folders = manifest.files.filter((entry) => entry.type === 'directory').reverse()
  for (const entry of folders) {
    const dest = join(root, ...entry.path.split('/'))

    if ((await lstat(dest)).isDirectory()) {
      await chmod(dest, entry.mode)
      await utimes(dest, entry.mtime, entry.mtime)
    }
  }
}
