import type { Connection, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { errorMessage, PressmeshError } from '../protocol/errors.ts'
import {
  DISPATCH_ANSWER_TIMEOUT_MS,
  type DispatchAnswer,
  type DispatchRequest,
  decodeJson,
  dispatchRequestSchema,
  encodeJson,
  type Heartbeat,
  heartbeatSchema,
  MAX_DISPATCH_FRAME_BYTES,
  type OfferAnswer,
  type TaskSpec,
} from '../protocol/jobs.ts'
import type { Logger } from '../protocol/logger.ts'
import { Bitfield } from '../protocol/mesh/bitfield.ts'
import { decodeGossip, type Presence } from '../protocol/mesh/gossip.ts'
import { sendDispatch } from '../protocol/mesh/dispatch-client.ts'
import type { MeshHost } from '../protocol/mesh/host.ts'
import {
  DISPATCH_PROTOCOL,
  EVENTS_TOPIC,
  HAVE_TOPIC,
  PRESENCE_TOPIC,
} from '../protocol/mesh/protocol-ids.ts'
import type { CoordinatorMetrics } from './metrics.ts'

// The coordinator's side of the mesh: what it hears on the presence, have and events topics
// (which nodes are alive, how many free slots they have, which chunks they hold, which tasks
// they run), and the dispatch protocol in both directions: offers and cancels out, results in.

/** A node whose last presence is older than this is not offered tasks. */
export const NODE_ALIVE_MS = 10_000
/** Inbound result streams handled at once per connection. */
const MAX_INBOUND_DISPATCH = 256

export interface NodeState {
  peer: string
  presence: Presence
  lastSeen: number
  /** Free slots the node announced, and the coordinator's count of its tasks at that moment. */
  announcedFree: number
  heldAtAnnounce: number
  /** After a NO_SLOTS refusal, not offered anything until its next presence. */
  full: boolean
}

export type ResultRequest = Extract<DispatchRequest, { type: 'result' }>

export interface MeshLinkEvents {
  onPresence(peer: string, presence: Presence): void
  onHeartbeat(peer: string, heartbeat: Heartbeat): void
  /** A node reports a result; resolve once it is on disk, so the ack means "recorded". */
  onResult(peer: string, result: ResultRequest): Promise<void>
}

export class MeshLink {
  readonly nodes = new Map<string, NodeState>()
  /** manifest id -> peer -> chunks held; master URL -> manifest id. */
  private readonly haves = new Map<string, Map<string, { held: number; total: number }>>()
  private readonly masters = new Map<string, string>()

  constructor(
    readonly host: MeshHost,
    private readonly events: MeshLinkEvents,
    private readonly metrics: CoordinatorMetrics,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const pubsub = this.host.services.pubsub
    for (const topic of [PRESENCE_TOPIC, HAVE_TOPIC, EVENTS_TOPIC]) {
      pubsub.subscribe(topic)
    }
    pubsub.addEventListener('message', (event) => this.receive(event.detail))

    await this.host.handle(
      DISPATCH_PROTOCOL,
      (stream, connection) => this.serve(stream, connection),
      {
        maxInboundStreams: MAX_INBOUND_DISPATCH,
      },
    )
  }

  get peerId(): string {
    return this.host.peerId.toString()
  }

  alive(peer: string, now = Date.now()): boolean {
    const node = this.nodes.get(peer)
    return node !== undefined && now - node.lastSeen < NODE_ALIVE_MS
  }

  /** Fraction of a manifest's chunks a node holds (0 when unknown). */
  locality(peer: string, manifest: string | undefined, master: string): number {
    const id = manifest ?? this.masters.get(master)
    const held = id === undefined ? undefined : this.haves.get(id)?.get(peer)
    return held === undefined || held.total === 0 ? 0 : held.held / held.total
  }

  connected(peer: string): boolean {
    return this.host.getConnections(peerIdFromString(peer)).length > 0
  }

  /** Dials known nodes (after a restart the coordinator may know them before they call in). */
  async dial(peer: string, addrs: string[]): Promise<void> {
    const targets = addrs.map((addr) => multiaddr(`${addr.replace(/\/p2p\/.*$/, '')}/p2p/${peer}`))
    await this.host.dial(targets, { signal: AbortSignal.timeout(5_000) })
  }

  /** Offers a task; the answer is `accept` or a refusal. Throws when the node cannot be reached. */
  async offer(peer: string, task: TaskSpec): Promise<DispatchAnswer> {
    return this.request(peer, { v: 1, type: 'offer', task })
  }

  /** Offers several tasks in one frame; the answers come in the same order. */
  async offerMany(peer: string, tasks: TaskSpec[]): Promise<OfferAnswer[]> {
    const answer = await this.request(peer, { v: 1, type: 'offers', tasks })
    if (answer.type !== 'answers' || answer.answers.length !== tasks.length) {
      throw new PressmeshError(
        'NODE_BAD_ANSWER',
        `${peer} answered ${tasks.length} offers with ${answer.type}`,
      )
    }
    return answer.answers
  }

  async cancel(peer: string, task: string, attempt: number): Promise<DispatchAnswer> {
    return this.request(peer, { v: 1, type: 'cancel', task, attempt })
  }

  private async request(peer: string, request: DispatchRequest): Promise<DispatchAnswer> {
    try {
      return await sendDispatch(this.host, peer, request)
    } catch (err) {
      throw new PressmeshError('NODE_UNREACHABLE', `${peer}: ${errorMessage(err)}`, { cause: err })
    }
  }

  /** A node's result: recorded, then acknowledged; anything else on this stream is refused. */
  private async serve(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    const lp = lpStream(stream, { maxDataLength: MAX_DISPATCH_FRAME_BYTES })

    try {
      const signal = AbortSignal.timeout(DISPATCH_ANSWER_TIMEOUT_MS)
      const request = decodeJson(
        dispatchRequestSchema,
        (await lp.read({ signal })).subarray(),
        'dispatch request',
      )

      if (request.type === 'results') {
        // Recorded together (one batch on disk), acknowledged together.
        await Promise.all(
          request.results.map((result) =>
            this.events.onResult(peer, { v: 1, type: 'result', ...result }),
          ),
        )
        await lp.write(encodeJson({ v: 1, type: 'ack' }), { signal })
      } else if (request.type !== 'result') {
        await lp.write(
          encodeJson({
            v: 1,
            type: 'refuse',
            code: 'BAD_TASK',
            message: 'the coordinator takes results only',
          }),
          { signal },
        )
      } else {
        await this.events.onResult(peer, request)
        await lp.write(encodeJson({ v: 1, type: 'ack' }), { signal })
      }
      await stream.close({ signal }).catch(() => undefined)
    } catch (err) {
      this.metrics.badFrames.inc()
      this.log.debug({ peer, err: errorMessage(err) }, 'dispatch stream from node failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  private receive(message: { topic: string; data: Uint8Array; type: string; from?: unknown }) {
    if (message.type !== 'signed' || message.from === undefined) {
      this.metrics.badGossip.inc()
      return
    }

    const peer = String(message.from)
    try {
      if (message.topic === EVENTS_TOPIC) {
        this.events.onHeartbeat(peer, decodeJson(heartbeatSchema, message.data, 'heartbeat'))
        return
      }

      const decoded = decodeGossip(message.data)
      if (decoded.type === 'presence' && message.topic === PRESENCE_TOPIC) {
        this.presence(peer, decoded)
      } else if (decoded.type === 'have' && message.topic === HAVE_TOPIC) {
        let peers = this.haves.get(decoded.manifest)
        if (peers === undefined) {
          peers = new Map()
          this.haves.set(decoded.manifest, peers)
        }
        peers.set(peer, {
          held: Bitfield.fromBase64(decoded.bits, decoded.chunks).count,
          total: decoded.chunks,
        })
        if (decoded.master !== undefined) {
          this.masters.set(decoded.master, decoded.manifest)
        }
      }
    } catch (err) {
      this.metrics.badGossip.inc()
      this.log.debug({ peer, err: errorMessage(err) }, 'dropping malformed gossip')
    }
  }

  private presence(peer: string, presence: Presence): void {
    if (presence.roles.includes('coordinator')) {
      return
    }

    const existing = this.nodes.get(peer)
    const state: NodeState = {
      peer,
      presence,
      lastSeen: Date.now(),
      announcedFree: presence.slots,
      heldAtAnnounce: 0,
      full: false,
    }
    this.nodes.set(peer, state)
    this.events.onPresence(peer, presence)
    if (existing === undefined) {
      this.log.info({ peer, site: presence.site, roles: presence.roles }, 'node joined')
    }
  }
}
