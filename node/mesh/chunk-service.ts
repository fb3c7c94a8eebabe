import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { errorMessage } from '../../protocol/errors.ts'
import type { Logger } from '../../protocol/logger.ts'
import {
  MAX_INBOUND_STREAMS,
  MAX_IDS_PER_REQUEST,
  REQUEST_READ_TIMEOUT_MS,
} from '../../protocol/mesh/constants.ts'
import { decodeRequest, encodeDataHeader, encodeMissing } from '../../protocol/mesh/frames.ts'
import type { MeshHost } from '../../protocol/mesh/host.ts'
import { CHUNKS_PROTOCOL, MANIFEST_PROTOCOL } from '../../protocol/mesh/protocol-ids.ts'
import type { ChunkStore } from '../chunk-store/store.ts'
import type { NodeMetrics } from '../metrics.ts'
import type { ManifestRegistry } from './manifest-registry.ts'
import type { SwarmView } from './swarm-view.ts'

// The serving side: answers chunk and manifest requests from the store. A malformed frame, a
// slow asker or a failing read resets that one stream; nothing a peer sends can stop the node.

const MAX_REQUEST_FRAME_BYTES = 2 + MAX_IDS_PER_REQUEST * 32

export interface ChunkServiceInit {
  host: MeshHost
  store: ChunkStore
  manifests: ManifestRegistry
  view: SwarmView
  metrics: NodeMetrics
  log: Logger
}

export async function startChunkService(init: ChunkServiceInit): Promise<void> {
  const options = { maxInboundStreams: MAX_INBOUND_STREAMS }

  await init.host.handle(
    CHUNKS_PROTOCOL,
    (stream, connection) => serve(init, stream, connection, 'chunks'),
    options,
  )
  await init.host.handle(
    MANIFEST_PROTOCOL,
    (stream, connection) => serve(init, stream, connection, 'manifest'),
    options,
  )
}

async function serve(
  init: ChunkServiceInit,
  stream: Stream,
  connection: Connection,
  kind: 'chunks' | 'manifest',
): Promise<void> {
  const peer = connection.remotePeer.toString()
  const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_FRAME_BYTES })

  try {
    const request = await lp.read({ signal: AbortSignal.timeout(REQUEST_READ_TIMEOUT_MS) })
    const ids = decodeRequest(request.subarray(), kind === 'manifest' ? 1 : MAX_IDS_PER_REQUEST)

    for (const id of ids) {
      const pieces = kind === 'chunks' ? await readChunk(init, id) : manifestPieces(init, id)
      await lp.write(
        pieces ? new Uint8ArrayList(encodeDataHeader(id), ...pieces) : encodeMissing(id),
      )

      if (pieces && kind === 'chunks') {
        const size = pieces.reduce((sum, piece) => sum + piece.length, 0)
        init.metrics.bytesServed.inc({ peer_site: init.view.siteOf(peer) }, size)
      }
    }

    await stream.close()
  } catch (err) {
    init.metrics.badFrames.inc({ protocol: kind })
    init.log.debug({ peer, err: errorMessage(err) }, 'request from peer failed, resetting stream')
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  }
}

function manifestPieces(init: ChunkServiceInit, id: string): Uint8Array[] | undefined {
  const bytes = init.manifests.get(id)?.bytes
  return bytes && [bytes]
}

async function readChunk(
  init: ChunkServiceInit,
  id: string,
): Promise<readonly Uint8Array[] | undefined> {
  if (!init.store.has(id)) {
    return undefined
  }

  try {
    return await init.store.read(id)
  } catch {
    // Corrupt or vanished on disk: the store dropped it; the asker will look elsewhere.
    return undefined
  }
}
