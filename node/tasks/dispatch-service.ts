import type { Connection, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { errorMessage } from '../../protocol/errors.ts'
import {
  DISPATCH_ANSWER_TIMEOUT_MS,
  type DispatchAnswer,
  type DispatchRequest,
  decodeJson,
  dispatchRequestSchema,
  encodeJson,
  MAX_DISPATCH_FRAME_BYTES,
} from '../../protocol/jobs.ts'
import type { Logger } from '../../protocol/logger.ts'
import type { MeshHost } from '../../protocol/mesh/host.ts'
import { DISPATCH_PROTOCOL } from '../../protocol/mesh/protocol-ids.ts'
import type { NodeMetrics } from '../metrics.ts'
import { MAX_INBOUND_DISPATCH_STREAMS } from './constants.ts'

// The serving side of /pressmesh/dispatch/1: one request frame in, one answer frame out, then
// the stream closes. A frame that is too large, not JSON or not a request resets that stream and
// is counted; the node goes on serving everyone else.

export interface DispatchServiceInit {
  host: MeshHost
  metrics: NodeMetrics
  log: Logger
  answer: (request: DispatchRequest, peer: string) => DispatchAnswer
}

export async function startDispatchService(init: DispatchServiceInit): Promise<void> {
  await init.host.handle(
    DISPATCH_PROTOCOL,
    (stream, connection) => serve(init, stream, connection),
    { maxInboundStreams: MAX_INBOUND_DISPATCH_STREAMS },
  )
}

async function serve(init: DispatchServiceInit, stream: Stream, connection: Connection) {
  const peer = connection.remotePeer.toString()
  const signal = AbortSignal.timeout(DISPATCH_ANSWER_TIMEOUT_MS)
  const lp = lpStream(stream, { maxDataLength: MAX_DISPATCH_FRAME_BYTES })
  let request: DispatchRequest

  try {
    const frame = await lp.read({ signal })
    request = decodeJson(dispatchRequestSchema, frame.subarray(), 'dispatch request')
  } catch (err) {
    init.metrics.badFrames.inc({ protocol: 'dispatch' })
    init.log.debug({ peer, err: errorMessage(err) }, 'bad dispatch frame from peer, resetting')
    stream.abort(asError(err))
    return
  }

  try {
    await lp.write(encodeJson(init.answer(request, peer)), { signal })
    await stream.close({ signal })
  } catch (err) {
    init.log.debug({ peer, err: errorMessage(err) }, 'dispatch answer to peer failed')
    stream.abort(asError(err))
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
