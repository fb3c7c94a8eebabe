import type { KeyObject } from 'node:crypto'
import type { HashWorker } from '../../protocol/chunker/whole-hash.ts'
import { InvalidInputError } from '../../protocol/errors.ts'
import type { FileDigest } from './digest-tap.ts'
import type { Medium } from './medium.ts'
import { keyFingerprint, signSums } from './release-key.ts'
import { BLAKE3SUMS, formatSums, SHA256SUMS, SIGNATURE, SUMS_FILES } from './sums.ts'
import { type MediaTarget, memoryFile } from './upload/target.ts'

// Publishing a medium: every file to the target, hashed on the way, then BLAKE3SUMS, the
// signature and SHA256SUMS last, so that a folder with SHA256SUMS in it is complete.

export interface PublishInit {
  /** The release key's private half; without it the medium goes out unsigned. */
  key?: KeyObject
  signal?: AbortSignal
  /** Hash on this worker's thread, beside the writing (recommended for large media). */
  hashWorker?: HashWorker
  /** Bytes sent so far and the total (when every size is known; else the bytes so far). */
  onProgress?: (done: number, total: number) => void
}

export interface PublishedFile extends FileDigest {
  name: string
}

export interface PublishResult {
  files: PublishedFile[]
  /** The signing key's fingerprint, or undefined when unsigned. */
  signedBy?: string
}

export async function publishMedium(
  medium: Medium,
  target: MediaTarget,
  init: PublishInit = {},
): Promise<PublishResult> {
  checkNames(medium)
  const total = medium.files.reduce((sum, file) => sum + (file.size ?? 0), 0)
  const files: PublishedFile[] = []
  let done = 0

  for (const file of medium.files) {
    const start = done
    const digest = await target.store(file, {
      signal: init.signal,
      hashWorker: init.hashWorker,
      onBytes: (count) => {
        done += count
        init.onProgress?.(done, Math.max(total, done))
      },
    })

    done = start + digest.size
    files.push({ name: file.name, ...digest })
  }

  return { files, signedBy: await storeSums(files, target, init) }
}

async function storeSums(files: PublishedFile[], target: MediaTarget, init: PublishInit) {
  const sha256 = formatSums(new Map(files.map((file) => [file.name, file.sha256])))
  const blake3 = formatSums(new Map(files.map((file) => [file.name, file.blake3])))
  const options = { signal: init.signal }

  await target.store(memoryFile(BLAKE3SUMS, blake3), options)

  if (init.key !== undefined) {
    await target.store(memoryFile(SIGNATURE, signSums(sha256, init.key)), options)
  }

  await target.store(memoryFile(SHA256SUMS, sha256), options)
  return init.key === undefined ? undefined : keyFingerprint(init.key)
}

function checkNames(medium: Medium): void {
  for (const file of medium.files) {
    if (SUMS_FILES.includes(file.name) || file.name.includes('/') || file.name.startsWith('.')) {
      throw new InvalidInputError(
        'MEDIA_BAD_NAME',
        `a medium file may not be called "${file.name}" (no slashes, no leading dot, and not ` +
          'the name of a sums file)',
      )
    }
  }
}
