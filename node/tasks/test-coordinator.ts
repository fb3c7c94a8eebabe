import type { Stream } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import {
  type DispatchAnswer,
  type DispatchRequest,
  decodeJson,
  dispatchAnswerSchema,
  dispatchRequestSchema,
  encodeJson,
  MAX_DISPATCH_FRAME_BYTES,
  type Heartbeat,
  heartbeatSchema,
} from '../../protocol/jobs.ts'
import { createMeshHost, type MeshHost } from '../../protocol/mesh/host.ts'
import { DISPATCH_PROTOCOL, EVENTS_TOPIC } from '../../protocol/mesh/protocol-ids.ts'

// For tests only: a real libp2p host playing the coordinator's part of dispatch. It offers and
// cancels tasks, collects the heartbeats nodes publish, and takes results, acknowledging each
// as its policy says (resetting the stream instead stands for a coordinator that crashed).

export type ResultFrame = Extract<DispatchRequest, { type: 'result' }>

export interface SeenHeartbeat {
  from: string
  heartbeat: Heartbeat
}

export class TestCoordinator {
  readonly results: ResultFrame[] = []
  readonly heartbeats: SeenHeartbeat[] = []
  /** What to do with a result: answer ack, or reset the stream. */
  policy: (result: ResultFrame, seen: number) => 'ack' | 'reset' = () => 'ack'

  private constructor(readonly host: MeshHost) {}

  static async start(options: { listen?: boolean } = {}): Promise<TestCoordinator> {
    const host = await createMeshHost({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
    })
    const coordinator = new TestCoordinator(host)

    host.services.pubsub.subscribe(EVENTS_TOPIC)
    host.services.pubsub.addEventListener('message', (event) => {
      const message = event.detail
      if (message.topic === EVENTS_TOPIC && message.type === 'signed') {
        const heartbeat = decodeJson(heartbeatSchema, message.data, 'heartbeat')
        coordinator.heartbeats.push({ from: message.from.toString(), heartbeat })
      }
    })

    if (options.listen ?? true) {
      await coordinator.listen()
    }

    return coordinator
  }

  async listen(): Promise<void> {
    await this.host.handle(DISPATCH_PROTOCOL, (stream) => this.receive(stream))
  }

  async stop(): Promise<void> {
    await this.host.stop()
  }

  async connect(addresses: string[]): Promise<void> {
    await this.host.dial(multiaddr(addresses[0]))
  }

  async send(peer: string, request: DispatchRequest): Promise<DispatchAnswer> {
    const answer = await this.sendBytes(peer, encodeJson(request))

    if (answer === 'reset') {
      throw new Error(`${peer} reset the stream of a ${request.type}`)
    }

    return answer
  }

  /** Any bytes as one frame; 'reset' when the node hung up instead of answering. */
  async sendBytes(peer: string, bytes: Uint8Array): Promise<DispatchAnswer | 'reset'> {
    const signal = AbortSignal.timeout(15_000)
    const stream = await this.host.dialProtocol(peerIdFromString(peer), DISPATCH_PROTOCOL, {
      signal,
    })
    const lp = lpStream(stream, { maxDataLength: 1024 * 1024 })

    try {
      await lp.write(bytes, { signal })
      const frame = await lp.read({ signal })
      await stream.close().catch(() => undefined)
      return decodeJson(dispatchAnswerSchema, frame.subarray(), 'answer')
    } catch {
      return 'reset'
    }
  }

  resultsOf(task: string): ResultFrame[] {
    return this.results.filter((result) => result.task === task)
  }

  async waitForResult(task: string, timeoutMs = 30_000, count = 1): Promise<ResultFrame> {
    return waitFor(() => this.resultsOf(task)[count - 1], timeoutMs, `result of ${task}`)
  }

  async waitForHeartbeat(
    match: (seen: SeenHeartbeat) => boolean,
    timeoutMs = 30_000,
  ): Promise<SeenHeartbeat> {
    return waitFor(() => this.heartbeats.find(match), timeoutMs, 'a matching heartbeat')
  }

  private async receive(stream: Stream): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_DISPATCH_FRAME_BYTES })

    try {
      const frame = await lp.read({ signal: AbortSignal.timeout(10_000) })
      const request = decodeJson(dispatchRequestSchema, frame.subarray(), 'result')

      // A batch is taken as its results one by one; one reset refuses the whole batch.
      const results: ResultFrame[] =
        request.type === 'result'
          ? [request]
          : request.type === 'results'
            ? request.results.map((result) => ({ v: 1, type: 'result', ...result }))
            : []
      if (results.length === 0) {
        throw new Error(`a node sent a ${request.type}`)
      }

      let reset = false
      for (const result of results) {
        this.results.push(result)
        reset ||= this.policy(result, this.resultsOf(result.task).length) === 'reset'
      }
      if (reset) {
        throw new Error('told to reset')
      }

      await lp.write(encodeJson({ v: 1, type: 'ack' } satisfies DispatchAnswer))
      await stream.close()
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }
}

export async function waitFor<T>(
  find: () => T | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs

  while (Date.now() < deadline) {
    const found = find()
    if (found !== undefined) {
      return found
    }

    await new Promise((resolve) => setTimeout(resolve, 50))
  }

  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}
