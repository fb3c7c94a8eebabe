import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { IntegrityError } from '../../protocol/errors.ts'
import type { ContentId } from '../../protocol/hash.ts'
import {
  CHUNK_REQUEST_TIMEOUT_MS,
  MAX_CHUNK_FRAME_BYTES,
  MAX_MANIFEST_FRAME_BYTES,
} from '../../protocol/mesh/constants.ts'
import { decodeReplyPieces, encodeRequest } from '../../protocol/mesh/frames.ts'
import type { MeshHost } from '../../protocol/mesh/host.ts'
import { CHUNKS_PROTOCOL, MANIFEST_PROTOCOL } from '../../protocol/mesh/protocol-ids.ts'

// The asking side of the chunks and manifest protocols: one stream per request, replies in
// request order, every frame bounded and the whole exchange under a deadline.

/** A chunk as received: its bytes in the pieces they arrived in, `size` bytes in all. */
export type ChunkReply = { id: ContentId; pieces?: Uint8Array[]; size: number }

/**
 * Asks a peer for chunks on one stream. `onReply` sees each answer as soon as it arrives, with
 * its position in `ids`; throwing from it ends the exchange (and resets the stream).
 */
export async function requestChunks(
  host: MeshHost,
  peer: string,
  ids: readonly ContentId[],
  signal?: AbortSignal,
  onReply?: (reply: ChunkReply, position: number) => void,
): Promise<ChunkReply[]> {
  return exchange(host, peer, CHUNKS_PROTOCOL, ids, MAX_CHUNK_FRAME_BYTES, signal, onReply)
}

export async function requestManifest(
  host: MeshHost,
  peer: string,
  id: ContentId,
  signal?: AbortSignal,
): Promise<Uint8Array | undefined> {
  const [reply] = await exchange(
    host,
    peer,
    MANIFEST_PROTOCOL,
    [id],
    MAX_MANIFEST_FRAME_BYTES,
    signal,
  )
  return reply.pieces && Buffer.concat(reply.pieces, reply.size)
}

async function exchange(
  host: MeshHost,
  peer: string,
  protocol: string,
  ids: readonly ContentId[],
  maxFrameBytes: number,
  signal?: AbortSignal,
  onReply?: (reply: ChunkReply, position: number) => void,
): Promise<ChunkReply[]> {
  const deadline = AbortSignal.timeout(CHUNK_REQUEST_TIMEOUT_MS * ids.length)
  const combined = signal ? AbortSignal.any([signal, deadline]) : deadline
  let stream: Stream | undefined

  try {
    stream = await host.dialProtocol(peerIdFromString(peer), protocol, { signal: combined })
    // The read buffer must hold a whole frame: a maximum-size chunk is more than lpStream's
    // default 4 MiB buffer.
    const lp = lpStream(stream, { maxDataLength: maxFrameBytes, maxBufferSize: maxFrameBytes + 16 })

    await lp.write(encodeRequest(ids), { signal: combined })

    const replies: ChunkReply[] = []
    for (const [position, id] of ids.entries()) {
      const reply = decodeReplyPieces(await lp.read({ signal: combined }))

      if (reply.id !== id) {
        throw new IntegrityError(
          'FRAME_OUT_OF_ORDER',
          `peer ${peer} answered ${reply.id} for ${id}`,
        )
      }

      const answer: ChunkReply =
        reply.type === 'data' ? { id, pieces: reply.pieces, size: reply.size } : { id, size: 0 }
      replies.push(answer)
      onReply?.(answer, position)
    }

    await stream.close({ signal: combined }).catch(() => undefined)
    return replies
  } catch (err) {
    stream?.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
}
