import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { KeyObject } from 'node:crypto'
import { IntegrityError } from '../../protocol/errors.ts'
import { DigestTap } from './digest-tap.ts'
import { keyFingerprint, sumsSignatureValid } from './release-key.ts'
import { BLAKE3SUMS, parseSums, SHA256SUMS, SIGNATURE } from './sums.ts'

// Checking a published medium folder: the signature over SHA256SUMS with the release key's
// public half, then every listed file against both its SHA-256 and its BLAKE3 sum. Every
// failure is an IntegrityError with its own code.

export interface VerifyResult {
  files: string[]
  bytes: number
  signedBy: string
}

export async function verifyMediumFolder(dir: string, key: KeyObject): Promise<VerifyResult> {
  const sha256Text = await readRequired(dir, SHA256SUMS, 'MEDIA_SUMS_MISSING')
  const signature = await readRequired(dir, SIGNATURE, 'MEDIA_SIGNATURE_MISSING')

  if (!sumsSignatureValid(sha256Text, signature, key)) {
    throw new IntegrityError(
      'MEDIA_SIGNATURE_BAD',
      `${SIGNATURE} in ${dir} is not a signature of ${SHA256SUMS} by key ${keyFingerprint(key)}`,
    )
  }

  const sha256 = parseSums(sha256Text, SHA256SUMS, 64)
  const blake3 = parseSums(
    await readRequired(dir, BLAKE3SUMS, 'MEDIA_SUMS_MISSING'),
    BLAKE3SUMS,
    64,
  )
  checkSameNames(sha256, blake3)
  let bytes = 0

  for (const [name, expected] of sha256) {
    const digest = await hashFile(dir, name)

    if (digest.sha256 !== expected || digest.blake3 !== blake3.get(name)) {
      throw new IntegrityError('MEDIA_FILE_CORRUPT', `${name} in ${dir} does not match its sums`)
    }

    bytes += digest.size
  }

  return { files: [...sha256.keys()], bytes, signedBy: keyFingerprint(key) }
}

async function hashFile(dir: string, name: string) {
  const tap = new DigestTap()

  try {
    for await (const piece of createReadStream(join(dir, name), { highWaterMark: 1024 * 1024 })) {
      tap.update(piece as Buffer)
    }
  } catch (err) {
    throw new IntegrityError(
      'MEDIA_FILE_MISSING',
      `${name} is listed but cannot be read in ${dir}`,
      {
        cause: err,
      },
    )
  }

  return await tap.digest()
}

async function readRequired(dir: string, name: string, code: string): Promise<Buffer> {
  try {
    return await readFile(join(dir, name))
  } catch (err) {
    throw new IntegrityError(code, `${dir} has no readable ${name}`, { cause: err })
  }
}

function checkSameNames(sha256: Map<string, string>, blake3: Map<string, string>): void {
  const same = sha256.size === blake3.size && [...sha256.keys()].every((name) => blake3.has(name))

  if (!same) {
    throw new IntegrityError(
      'MEDIA_SUMS_DISAGREE',
      `${SHA256SUMS} and ${BLAKE3SUMS} do not list the same files`,
    )
  }
}
