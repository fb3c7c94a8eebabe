import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import {
  DISPATCH_ANSWER_TIMEOUT_MS,
  type DispatchAnswer,
  type DispatchRequest,
  decodeJson,
  dispatchAnswerSchema,
  encodeJson,
  MAX_DISPATCH_FRAME_BYTES,
} from '../jobs.ts'
import type { MeshHost } from './host.ts'
import { DISPATCH_PROTOCOL } from './protocol-ids.ts'

// The asking side of /pressmesh/dispatch/1, shared by the coordinator (offers, cancels) and the
// nodes (results): a new stream (dialling the peer again if the connection is gone), one frame
// each way, under a deadline.

export async function sendDispatch(
  host: MeshHost,
  peer: string,
  request: DispatchRequest,
  signal?: AbortSignal,
): Promise<DispatchAnswer> {
  const deadline = AbortSignal.timeout(DISPATCH_ANSWER_TIMEOUT_MS)
  const combined = signal ? AbortSignal.any([signal, deadline]) : deadline
  let stream: Stream | undefined

  try {
    stream = await host.dialProtocol(peerIdFromString(peer), DISPATCH_PROTOCOL, {
      signal: combined,
    })
    const lp = lpStream(stream, { maxDataLength: MAX_DISPATCH_FRAME_BYTES })

    await lp.write(encodeJson(request), { signal: combined })
    const frame = await lp.read({ signal: combined })
    const answer = decodeJson(dispatchAnswerSchema, frame.subarray(), 'dispatch answer')

    await stream.close({ signal: combined }).catch(() => undefined)
    return answer
  } catch (err) {
    stream?.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
}
