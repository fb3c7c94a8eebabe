import { peerIdFromString } from '@libp2p/peer-id'
import { errorMessage, IntegrityError, PressmeshError } from '../../protocol/errors.ts'
import { blake3OfPieces } from '../../protocol/hash.ts'
import type { Logger } from '../../protocol/logger.ts'
import type { MeshHost } from '../../protocol/mesh/host.ts'
import { rendezvous } from '../../protocol/mesh/rendezvous.ts'
import type { ChunkStore } from '../chunk-store/store.ts'
import type { GossipAgent } from '../mesh/gossip-agent.ts'
import type { KnownManifest } from '../mesh/manifest-registry.ts'
import { requestChunks } from '../mesh/peer-client.ts'
import type { Survey, SwarmView } from '../mesh/swarm-view.ts'
import type { NodeMetrics } from '../metrics.ts'
import {
  ELECTION_WAIT_MS,
  FETCH_WINDOW_BYTES,
  HEDGE_AFTER_MS,
  ORIGIN_CONCURRENCY,
  ORIGIN_COOLDOWN_MS,
  PEER_BATCH,
  PEER_COOLDOWN_MS,
  PEER_WINDOW_BYTES,
  SETTLE_MS,
  SETTLE_QUIET_MS,
  STALL_LIMIT_MS,
  TICK_MS,
} from './constants.ts'
import type { Origin } from './origin.ts'

// The swarm fetcher brings every chunk of one manifest into the local store:
// - rarest chunks first, each from a peer that holds it, at most PEER_WINDOW_BYTES in flight
//   per peer and FETCH_WINDOW_BYTES in all, asked for PEER_BATCH at a time on one stream (a
//   stream per chunk cost more than the chunk's bytes), peers of this node's site before peers
//   afar;
// - a chunk only peers of other sites hold is pulled across by one node of this site, chosen by
//   rendezvous hashing over the site's nodes that want it; the others wait for its announcement;
// - a chunk nobody holds is read from the storage server by one node of the whole mesh, chosen
//   the same way; the others wait for it, and fetch it themselves after ELECTION_WAIT_MS;
// - every chunk is verified; a peer that sends bytes that do not match is banned and hung up on;
// - a request to a peer slower than HEDGE_AFTER_MS is also sent to another holder; the first
//   answer wins.

export interface FetchContext {
  host: MeshHost
  store: ChunkStore
  view: SwarmView
  gossip: GossipAgent
  metrics: NodeMetrics
  log: Logger
}

export interface FetchProgress {
  doneBytes: number
  totalBytes: number
  fromOrigin: number
  fromPeers: number
  local: number
}

export interface FetchReport extends FetchProgress {
  manifest: string
  /** Chunks fetched by this node because the node elected for them went quiet. */
  takeovers: number

  peersBySite: Record<string, number>
  seconds: number
}

export interface FetchOptions {
  origin?: Origin
  onProgress?: (progress: FetchProgress) => void
  signal?: AbortSignal
}

/** Shortest time between two scheduling passes. */
const MIN_PASS_MS = 5

const NEEDED = 0
const IN_FLIGHT = 1
const DONE = 2

interface Attempt {
  source: string
  started: number
  controller: AbortController
}

export class ManifestFetcher {
  private readonly ids: string[]
  private readonly sizes: number[]
  private readonly state: Uint8Array
  private readonly waitingSince: Float64Array
  private readonly attempts = new Map<number, Attempt[]>()
  /** Bytes of chunks asked of each peer and not answered yet. */
  private readonly peerLoad = new Map<string, number>()
  private peerBytes = 0
  private readonly cooldown = new Map<string, number>()
  private readonly missing = new Set<string>()
  private readonly peersBySite: Record<string, number> = {}
  private readonly progress: FetchProgress
  private readonly started = Date.now()
  /** Nodes interested in the manifest at the last pass, and since when that number held. */
  private interested = 0
  private interestSince = Date.now()
  private locations: Array<{ path: string; offset: number }> | undefined
  private originLoad = 0
  private originDownUntil = 0
  private remaining = 0
  private lastProgress = Date.now()
  private failure: Error | undefined
  private wake: (() => void) | undefined

  constructor(
    private readonly ctx: FetchContext,
    private readonly known: KnownManifest,
    private readonly options: FetchOptions = {},
  ) {
    this.ids = known.order.ids
    this.sizes = known.order.sizes
    this.state = new Uint8Array(this.ids.length)
    this.waitingSince = new Float64Array(this.ids.length)
    this.progress = { doneBytes: 0, totalBytes: 0, fromOrigin: 0, fromPeers: 0, local: 0 }

    this.ids.forEach((id, i) => {
      this.progress.totalBytes += this.sizes[i]

      if (ctx.store.has(id)) {
        this.state[i] = DONE
        this.progress.local += this.sizes[i]
        this.progress.doneBytes += this.sizes[i]
      } else {
        this.remaining++
      }
    })
  }

  async run(): Promise<FetchReport> {
    const stopWatching = this.ctx.view.onChange(() => this.poke())
    this.ctx.gossip.track(this.known, this.remaining > 0)

    try {
      while (this.remaining > 0) {
        this.options.signal?.throwIfAborted()
        this.check()
        this.schedule()
        await this.sleep()
        // Completions and gossip wake the loop many times a second; one pass serves them all.
        await new Promise((resolve) => setTimeout(resolve, MIN_PASS_MS))
      }
    } finally {
      stopWatching()
      this.abortAll()
      this.ctx.gossip.setWanting(this.known.id, false)
    }

    return {
      ...this.progress,
      takeovers: this.takeovers,
      manifest: this.known.id,
      peersBySite: this.peersBySite,
      seconds: (Date.now() - this.started) / 1000,
    }
  }

  private schedule(): void {
    const now = Date.now()
    const settled = this.settled(now)
    const batches = new Map<string, number[]>()
    const survey = this.ctx.view.survey(this.known.id, this.options.origin?.url)

    for (const [index, all] of this.neededByRarity(survey)) {
      const holders = this.usable(all, index, now)
      const near = holders.filter((peer) => this.ctx.view.siteOf(peer) === this.ctx.view.site)

      if (near.length > 0) {
        this.tryPeer(index, near, batches)
      } else if (holders.length > 0) {
        if (settled && this.elected(survey, index, this.ctx.view.site)) {
          this.tryPeer(index, holders, batches)
        }
      } else if (
        // A holder this node is cooling down from (a failed request) still holds the chunk: try
        // it again after the cool-down rather than read the chunk from the storage server again.
        // Only a holder that answered "missing" is given up on for that chunk.
        all.every((peer) => this.missing.has(`${peer}:${index}`)) &&
        this.options.origin !== undefined &&
        settled &&
        this.elected(survey, index)
      ) {
        this.tryOrigin(index, now)
      }
    }

    this.hedge(survey, now, batches)

    for (const [peer, indices] of batches) {
      for (let at = 0; at < indices.length; at += PEER_BATCH) {
        void this.fromPeer(indices.slice(at, at + PEER_BATCH), peer)
      }
    }
  }

  /**
   * Whether the nodes that want this manifest have had time to say so, so that the elections
   * for origin reads are held among all of them: SETTLE_MS after the start at the latest, as
   * soon as no new one has appeared for SETTLE_QUIET_MS (nodes asked at the same moment hear of
   * each other within milliseconds), or at once when every live node wants it, since then no
   * other can join the election but one not heard from yet, which waiting would not reveal
   * either.
   */
  private settled(now: number): boolean {
    const interested = this.ctx.view.interested(this.known.id, this.options.origin?.url)

    if (interested !== this.interested) {
      this.interested = interested
      this.interestSince = now
    }

    return (
      now - this.started >= SETTLE_MS ||
      (now - this.started >= SETTLE_QUIET_MS && now - this.interestSince >= SETTLE_QUIET_MS) ||
      interested >= this.ctx.view.liveNodes()
    )
  }

  /**
   * Needed chunks that are not in flight with their holders, those with the fewest holders
   * first.
   */
  private neededByRarity(survey: Survey): Array<[number, string[]]> {
    const needed: Array<[number, string[]]> = []

    for (let i = 0; i < this.ids.length; i++) {
      if (this.state[i] === NEEDED) {
        needed.push([i, survey.holders(i)])
      }
    }

    return needed.sort((a, b) => a[1].length - b[1].length || a[0] - b[0])
  }

  /** The holders this node may ask now: not cooling down, and not known to lack the chunk. */
  private usable(holders: string[], index: number, now: number): string[] {
    return holders.filter(
      (peer) => (this.cooldown.get(peer) ?? 0) <= now && !this.missing.has(`${peer}:${index}`),
    )
  }

  /**
   * Whether this node is the one to act for a chunk. A node that is not waits for the elected one
   * as long as that one keeps announcing new chunks; after ELECTION_WAIT_MS of silence from it
   * (dead, stuck or cut off) it acts itself.
   */
  private elected(survey: Survey, index: number, site?: string): boolean {
    const winner = rendezvous(this.ids[index], survey.wanting(index, site))

    if (winner === this.ctx.view.self) {
      return true
    }

    const now = Date.now()
    if (this.waitingSince[index] === 0) {
      this.waitingSince[index] = now
    }

    const waited = now - this.waitingSince[index]
    const quiet =
      winner === undefined ? waited : Math.min(waited, this.ctx.view.sinceProgress(winner))

    if (quiet >= ELECTION_WAIT_MS) {
      this.takeovers++
      return true
    }

    return false
  }

  /** Chunks this node acted on because the node elected for them went quiet. */
  private takeovers = 0

  /** Adds the chunk to this pass's batch for the least loaded of `peers` with room. */
  private tryPeer(index: number, peers: string[], batches: Map<string, number[]>): boolean {
    const size = this.sizes[index]
    // Always room for one chunk, however large, so that no chunk waits forever.
    if (this.peerBytes > 0 && this.peerBytes + size > FETCH_WINDOW_BYTES) {
      return false
    }

    const load = (peer: string) => this.peerLoad.get(peer) ?? 0
    const peer = peers
      .filter((candidate) => load(candidate) === 0 || load(candidate) + size <= PEER_WINDOW_BYTES)
      .sort((a, b) => load(a) - load(b))[0]

    if (peer === undefined) {
      return false
    }

    this.peerLoad.set(peer, load(peer) + size)
    this.peerBytes += size
    const batch = batches.get(peer) ?? []
    batch.push(index)
    batches.set(peer, batch)
    // In flight from now on, so that hedging in this same pass does not pick it twice.
    this.state[index] = IN_FLIGHT
    return true
  }

  private tryOrigin(index: number, now: number): boolean {
    if (this.originLoad >= ORIGIN_CONCURRENCY || now < this.originDownUntil) {
      return false
    }

    void this.fromOrigin(index)
    return true
  }

  private hedge(survey: Survey, now: number, batches: Map<string, number[]>): void {
    for (const [index, attempts] of this.attempts) {
      if (attempts.length !== 1 || now - attempts[0].started < HEDGE_AFTER_MS) {
        continue
      }

      // Only another peer: a second read from the storage server would defeat its purpose.
      const others = this.usable(survey.holders(index), index, now).filter(
        (peer) => `peer:${peer}` !== attempts[0].source,
      )
      this.tryPeer(index, others, batches)
    }
  }

  /**
   * Asks one peer for several chunks on one stream. Each answer is handled as it arrives; the
   * request is called off only once every chunk in it has come from elsewhere.
   */
  private async fromPeer(indices: number[], peer: string): Promise<void> {
    const attempts = indices.map((index) => this.begin(index, `peer:${peer}`))
    const request = new AbortController()
    const callOff = () => {
      if (attempts.every((attempt) => attempt.controller.signal.aborted)) {
        request.abort()
      }
    }
    for (const attempt of attempts) {
      attempt.controller.signal.addEventListener('abort', callOff, { once: true })
    }

    const answered = new Set<number>()
    const storing: Promise<void>[] = []
    const finish = (position: number) => {
      if (!answered.has(position)) {
        answered.add(position)
        const size = this.sizes[indices[position]]
        this.peerLoad.set(peer, (this.peerLoad.get(peer) ?? size) - size)
        this.peerBytes -= size
        this.end(indices[position], attempts[position])
      }
    }

    try {
      await requestChunks(
        this.ctx.host,
        peer,
        indices.map((index) => this.ids[index]),
        request.signal,
        (reply, position) => {
          const index = indices[position]

          if (reply.pieces === undefined) {
            this.missing.add(`${peer}:${index}`)
            finish(position)
          } else if (this.verify(index, reply.pieces, reply.size)) {
            const site = this.ctx.view.siteOf(peer)
            const stored = this.accept(index, reply.pieces, reply.size, 'peer', site)
            storing.push(
              stored
                .catch((err) => {
                  this.ctx.log.warn({ err: errorMessage(err) }, 'storing a chunk failed')
                })
                .finally(() => finish(position)),
            )
          } else {
            this.reject(peer)
            finish(position)
            throw new IntegrityError(
              'CHUNK_MISMATCH',
              `peer ${peer} sent a chunk that does not match`,
            )
          }
        },
      )
    } catch (err) {
      if (!request.signal.aborted && !this.ctx.view.isBanned(peer)) {
        this.cooldown.set(peer, Date.now() + PEER_COOLDOWN_MS)
        this.ctx.log.debug({ peer, err: errorMessage(err) }, 'chunk request failed')
      }
    } finally {
      await Promise.allSettled(storing)
      for (let position = 0; position < indices.length; position++) {
        finish(position)
      }
    }
  }

  private async fromOrigin(index: number): Promise<void> {
    const origin = this.options.origin
    const attempt = this.begin(index, 'origin')
    this.originLoad++

    try {
      const where = this.locate(index)
      const size = this.sizes[index]
      const pieces = await origin!.readRange(
        where.path,
        where.offset,
        size,
        attempt.controller.signal,
      )

      if (!this.verify(index, pieces, size)) {
        this.failure = new IntegrityError(
          'ORIGIN_CHANGED',
          `the storage server's copy of ${origin!.url} (${where.path}) ` +
            'no longer matches its manifest',
        )
        return
      }

      await this.accept(index, pieces, size, 'origin')
    } catch (err) {
      if (!attempt.controller.signal.aborted) {
        this.originDownUntil = Date.now() + ORIGIN_COOLDOWN_MS
        this.ctx.log.warn({ origin: origin?.url, err: errorMessage(err) }, 'origin read failed')
      }
    } finally {
      this.originLoad--
      this.end(index, attempt)
    }
  }

  private begin(index: number, source: string): Attempt {
    const attempt = { source, started: Date.now(), controller: new AbortController() }
    const attempts = this.attempts.get(index) ?? []
    attempts.push(attempt)
    this.attempts.set(index, attempts)
    this.state[index] = IN_FLIGHT
    return attempt
  }

  private end(index: number, attempt: Attempt): void {
    const attempts = (this.attempts.get(index) ?? []).filter((other) => other !== attempt)

    if (attempts.length === 0) {
      this.attempts.delete(index)

      if (this.state[index] === IN_FLIGHT) {
        this.state[index] = NEEDED
      }
    } else {
      this.attempts.set(index, attempts)
    }

    this.poke()
  }

  private verify(index: number, pieces: readonly Uint8Array[], size: number): boolean {
    return size === this.sizes[index] && blake3OfPieces(pieces) === this.ids[index]
  }

  private reject(peer: string): void {
    this.ctx.metrics.chunksRejected.inc()

    // Several requests to the peer may come back bad at once: one ban.
    if (this.ctx.view.isBanned(peer)) {
      return
    }

    this.ctx.metrics.peersBanned.inc()

    this.ctx.view.ban(peer)
    this.ctx.log.warn({ peer }, 'peer sent bytes that do not match the chunk id, banning it')
    void this.ctx.host.hangUp(peerIdFromString(peer)).catch(() => undefined)
  }

  private async accept(
    index: number,
    pieces: Uint8Array[],
    size: number,
    from: 'peer' | 'origin',
    site?: string,
  ) {
    if (this.state[index] === DONE) {
      return
    }

    // The pieces are this fetch's own (fresh from the stream or the origin): the store may keep
    // them to serve the peers that will ask for this chunk next.
    await this.ctx.store.put(this.ids[index], pieces, { verified: true, keep: true })

    if (this.state[index] === DONE) {
      return
    }

    this.state[index] = DONE
    this.remaining--
    this.lastProgress = Date.now()
    this.ctx.metrics.chunksVerified.inc()
    this.progress.doneBytes += size

    if (from === 'origin') {
      this.progress.fromOrigin += size
    } else {
      this.progress.fromPeers += size
      this.ctx.metrics.bytesFromPeers.inc({ peer_site: site ?? 'unknown' }, size)
      this.peersBySite[site ?? 'unknown'] = (this.peersBySite[site ?? 'unknown'] ?? 0) + size
    }

    for (const attempt of this.attempts.get(index) ?? []) {
      attempt.controller.abort()
    }

    this.options.onProgress?.({ ...this.progress })
  }

  private locate(index: number): { path: string; offset: number } {
    if (this.locations === undefined) {
      this.locations = []
      const seen = new Set<string>()

      for (const entry of this.known.manifest.files) {
        if (entry.type !== 'file') {
          continue
        }

        let offset = 0
        for (const chunk of entry.chunks) {
          const at = this.known.order.index.get(chunk.id)

          if (at !== undefined && !seen.has(chunk.id)) {
            seen.add(chunk.id)
            this.locations[at] = { path: entry.path, offset }
          }

          offset += chunk.size
        }
      }
    }

    return this.locations[index]
  }

  private check(): void {
    if (this.failure !== undefined) {
      throw this.failure
    }

    if (Date.now() - this.lastProgress > STALL_LIMIT_MS) {
      throw new PressmeshError(
        'FETCH_STALLED',
        `no progress for ${STALL_LIMIT_MS / 1000} s with ${this.remaining} chunks of manifest ` +
          `${this.known.id} missing: no peer holds them and the storage server cannot be read`,
      )
    }
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, TICK_MS)
      this.wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  private poke(): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  private abortAll(): void {
    for (const attempts of this.attempts.values()) {
      for (const attempt of attempts) {
        attempt.controller.abort()
      }
    }
  }
}
