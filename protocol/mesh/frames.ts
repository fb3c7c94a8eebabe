import type { Uint8ArrayList } from 'uint8arraylist'
import { InvalidInputError } from '../errors.ts'
import { bytesToId, CONTENT_ID_BYTES, type ContentId, idToBytes } from '../hash.ts'
import { MAX_IDS_PER_REQUEST } from './constants.ts'

// Frames of the chunks and manifest protocols. Every frame travels length-prefixed (unsigned
// varint, as libp2p's lpStream writes it) and starts with a type byte:
//
//   request    0x01  count:u8  id[32] x count      (asker -> holder, one frame per stream)
//   data       0x02  id[32]    bytes...            (one per requested id, in request order)
//   missing    0x03  id[32]                        ("don't have")
//
// The manifest protocol uses the same frames with exactly one id: the manifest id.

export const FRAME_REQUEST = 0x01
export const FRAME_DATA = 0x02
export const FRAME_MISSING = 0x03

/** A reply frame as it came off the stream, its data left in the pieces it arrived in. */
export type ReplyPieces =
  | { type: 'data'; id: ContentId; pieces: Uint8Array[]; size: number }
  | { type: 'missing'; id: ContentId }

export function encodeRequest(ids: readonly ContentId[]): Uint8Array {
  if (ids.length === 0 || ids.length > MAX_IDS_PER_REQUEST) {
    throw new InvalidInputError(
      'FRAME_BAD_REQUEST',
      `a request names 1 to ${MAX_IDS_PER_REQUEST} ids`,
    )
  }

  const frame = new Uint8Array(2 + ids.length * CONTENT_ID_BYTES)
  frame[0] = FRAME_REQUEST
  frame[1] = ids.length
  for (const [i, id] of ids.entries()) {
    frame.set(idToBytes(id), 2 + i * CONTENT_ID_BYTES)
  }

  return frame
}

export function decodeRequest(frame: Uint8Array, maxIds = MAX_IDS_PER_REQUEST): ContentId[] {
  if (frame.length < 2 || frame[0] !== FRAME_REQUEST) {
    throw new InvalidInputError('FRAME_BAD_REQUEST', 'expected a request frame')
  }

  const count = frame[1]
  if (count === 0 || count > maxIds || frame.length !== 2 + count * CONTENT_ID_BYTES) {
    throw new InvalidInputError(
      'FRAME_BAD_REQUEST',
      `request frame of ${frame.length} bytes does not hold ${count} ids (at most ${maxIds})`,
    )
  }

  const ids: ContentId[] = []
  for (let i = 0; i < count; i++) {
    const start = 2 + i * CONTENT_ID_BYTES
    ids.push(bytesToId(frame.subarray(start, start + CONTENT_ID_BYTES)))
  }

  return ids
}

/** The header of a data frame; the caller sends the bytes after it in the same frame. */
export function encodeDataHeader(id: ContentId): Uint8Array {
  const header = new Uint8Array(1 + CONTENT_ID_BYTES)
  header[0] = FRAME_DATA
  header.set(idToBytes(id), 1)
  return header
}

export function encodeMissing(id: ContentId): Uint8Array {
  const frame = new Uint8Array(1 + CONTENT_ID_BYTES)
  frame[0] = FRAME_MISSING
  frame.set(idToBytes(id), 1)
  return frame
}

/** Decodes a reply without joining its data into one buffer (a chunk arrives in many pieces). */
export function decodeReplyPieces(frame: Uint8ArrayList): ReplyPieces {
  if (frame.length < 1 + CONTENT_ID_BYTES) {
    throw new InvalidInputError(
      'FRAME_BAD_REPLY',
      `reply frame of ${frame.length} bytes is too short`,
    )
  }

  const type = frame.get(0)
  const id = bytesToId(frame.subarray(1, 1 + CONTENT_ID_BYTES))

  if (type === FRAME_DATA) {
    const data = frame.sublist(1 + CONTENT_ID_BYTES)
    return { type: 'data', id, pieces: [...data], size: data.length }
  }

  if (type === FRAME_MISSING && frame.length === 1 + CONTENT_ID_BYTES) {
    return { type: 'missing', id }
  }

  throw new InvalidInputError('FRAME_BAD_REPLY', `unknown reply frame type ${type}`)
}
