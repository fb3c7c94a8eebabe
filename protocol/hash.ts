import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import { InvalidInputError } from './errors.ts'

// @napi-rs/blake-hash is a CommonJS addon; loading it through createRequire keeps the ESM
// graph free of interop surprises.
const require = createRequire(import.meta.url)
const native = require('@napi-rs/blake-hash') as typeof import('@napi-rs/blake-hash')

export const Blake3Hasher = native.Blake3Hasher
export type Blake3Hasher = InstanceType<typeof native.Blake3Hasher>

/** A chunk id or manifest id: BLAKE3-256 as 64 lowercase hex characters. */
export type ContentId = string

export const CONTENT_ID_BYTES = 32

const CONTENT_ID_PATTERN = /^[0-9a-f]{64}$/

export function isContentId(value: unknown): value is ContentId {
  return typeof value === 'string' && CONTENT_ID_PATTERN.test(value)
}

export function assertContentId(value: unknown, what = 'id'): ContentId {
  if (!isContentId(value)) {
    throw new InvalidInputError('INVALID_ID', `${what} must be 64 lowercase hex characters`)
  }

  return value
}

/** A Buffer over the same memory (no copy); the addon's typings want Buffers. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

export function blake3Hex(bytes: Uint8Array): ContentId {
  return native.blake3(asBuffer(bytes)).toString('hex')
}

/** BLAKE3 over several pieces that together form one message. */
export function blake3OfPieces(pieces: readonly Uint8Array[]): ContentId {
  if (pieces.length === 1) {
    return blake3Hex(pieces[0])
  }

  const hasher = new native.Blake3Hasher()
  for (const piece of pieces) {
    hasher.update(asBuffer(piece))
  }

  return hasher.digest('hex')
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export function idToBytes(id: ContentId): Uint8Array {
  return Buffer.from(assertContentId(id), 'hex')
}

export function bytesToId(bytes: Uint8Array): ContentId {
  if (bytes.length !== CONTENT_ID_BYTES) {
    throw new InvalidInputError(
      'INVALID_ID',
      `an id is ${CONTENT_ID_BYTES} bytes, got ${bytes.length}`,
    )
  }

  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}
