import type { KeyObject } from 'node:crypto'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { chunkerParams } from '../protocol/chunker/params.ts'
import { errorMessage, isPressmeshError, PressmeshError } from '../protocol/errors.ts'
import { blake3Hex, type ContentId } from '../protocol/hash.ts'
import { type Logger, logger } from '../protocol/logger.ts'
import { parseManifest } from '../protocol/manifest.ts'
import { createMeshHost, type MeshHost } from '../protocol/mesh/host.ts'
import { loadOrCreatePeerKey } from '../protocol/mesh/keys.ts'
import { rendezvous } from '../protocol/mesh/rendezvous.ts'
import { ChunkStore } from './chunk-store/store.ts'
import { ELECTION_WAIT_MS, SETTLE_MS } from './fetch/constants.ts'
import { openOrigin, type Origin } from './fetch/origin.ts'
import { type FetchProgress, type FetchReport, ManifestFetcher } from './fetch/swarm-fetcher.ts'
import { startChunkService } from './mesh/chunk-service.ts'
import { GossipAgent } from './mesh/gossip-agent.ts'
import { type KnownManifest, ManifestRegistry } from './mesh/manifest-registry.ts'
import { requestManifest } from './mesh/peer-client.ts'
import { SwarmView } from './mesh/swarm-view.ts'
import { createNodeMetrics, type NodeMetrics } from './metrics.ts'
import {
  MANIFEST_ASK_INTERVAL_MS,
  MANIFEST_ASK_PEERS,
  MANIFEST_FROM_PEERS_WAIT_MS,
} from './tasks/constants.ts'
import { TaskRunner } from './tasks/task-runner.ts'

// A mesh node: a libp2p host, a chunk store, the gossip agent that announces what the node holds
// and learns what others hold, the chunk service that serves peers, and the fetcher that brings
// masters in, and the task runner that takes tasks from the coordinator over the dispatch
// protocol. `materialize` gets a master into the local store.

export type NodeRole = 'production' | 'staging'

export interface MeshNodeConfig {
  dataDir: string
  listen: string[]
  bootstrap: string[]
  roles: NodeRole[]
  site: string
  psk?: Uint8Array
  allowPeers?: ReadonlySet<string>
  capacityBytes?: number
  /** Write fetched chunks past the page cache where the file system allows it (default on). */
  directWrites?: boolean
  /** Tasks (and fetches by hand) the node works on at once; free ones are announced. */
  slots: number
  /** The node's HTTP endpoint, announced in presence for operators. */
  httpUrl?: string
  /** The release key's private half: pack tasks sign their media's SHA256SUMS with it. */
  releaseKey?: KeyObject
}

export interface MaterializeOptions {
  /** The master's manifest id when known: used if this node holds that manifest already. */
  manifest?: ContentId
  onProgress?: (progress: FetchProgress) => void
  signal?: AbortSignal
}

export interface Materialized {
  manifest: KnownManifest
  report: FetchReport
}

export class MeshNode {
  readonly metrics: NodeMetrics
  readonly tasks: TaskRunner
  /** Fetches started by hand (HTTP API), each taking a slot as a task does. */
  private manualFetches = 0
  private readonly dialing = new Set<string>()

  private constructor(
    readonly config: MeshNodeConfig,
    readonly host: MeshHost,
    readonly store: ChunkStore,
    readonly manifests: ManifestRegistry,
    readonly view: SwarmView,
    readonly gossip: GossipAgent,
    metrics: NodeMetrics,
    private readonly log: Logger,
  ) {
    this.metrics = metrics
    this.tasks = new TaskRunner({
      host,
      store,
      metrics,
      log: log.child({ component: 'node:tasks' }),
      slots: config.slots,
      busyElsewhere: () => this.manualFetches,
      materialize: (master, options) => this.fetchMaster(master, options),
      releaseKey: config.releaseKey,
    })
  }

  static async start(config: MeshNodeConfig, log = logger('node')): Promise<MeshNode> {
    const privateKey = await loadOrCreatePeerKey(join(config.dataDir, 'peer-key'))
    const store = await ChunkStore.open({
      dir: join(config.dataDir, 'store'),
      capacityBytes: config.capacityBytes,
      directWrites: config.directWrites ?? true,
      log: log.child({ component: 'node:chunk-store' }),
    })
    const manifests = new ManifestRegistry(join(config.dataDir, 'manifests'))
    await manifests.load()

    const host = await createMeshHost({
      privateKey,
      listen: config.listen,
      bootstrap: config.bootstrap,
      psk: config.psk,
      allowPeers: config.allowPeers,
    })
    const metrics = createNodeMetrics()
    const view = new SwarmView(host.peerId.toString(), config.site)
    let node: MeshNode | undefined
    const gossip = new GossipAgent({
      host,
      store,
      view,
      metrics,
      log: log.child({ component: 'node:gossip' }),
      site: config.site,
      roles: config.roles,
      slots: () => node?.freeSlots() ?? config.slots,
      dataDir: config.dataDir,
      http: config.httpUrl,
    })

    node = new MeshNode(config, host, store, manifests, view, gossip, metrics, log)
    await node.wire()
    return node
  }

  get peerId(): string {
    return this.host.peerId.toString()
  }

  addresses(): string[] {
    return this.host.getMultiaddrs().map((addr) => addr.toString())
  }

  /** Slots not taken by tasks at work or fetches by hand. */
  freeSlots(): number {
    return this.tasks.freeSlots()
  }

  async stop(): Promise<void> {
    // First, while the host still runs: aborted tasks report their results.
    await this.tasks.stop()
    this.gossip.stop()
    await this.host.stop()
    await this.store.close()
  }

  /**
   * Brings every chunk of a master into the local store: from peers first, then the origin. A
   * master named by its manifest id comes from peers only. Takes a slot while it runs.
   */
  async materialize(master: string, options: MaterializeOptions = {}): Promise<Materialized> {
    this.manualFetches++

    try {
      return await this.fetchMaster(master, options)
    } finally {
      this.manualFetches--
    }
  }

  /** `materialize` for tasks, whose slot the task runner counts. */
  private async fetchMaster(master: string, options: MaterializeOptions): Promise<Materialized> {
    if (/^[0-9a-f]{64}$/.test(master)) {
      return this.fetchManifest(master, options)
    }

    // Said before anything else, so that peers count this node in elections from the start.
    this.gossip.wantMaster(master, true)

    try {
      const origin = openOrigin(master, { onBytes: (n) => this.metrics.bytesFromOrigin.inc(n) })
      const hinted =
        options.manifest === undefined ? undefined : this.manifests.get(options.manifest)
      const manifest = hinted ?? (await this.resolveManifest(origin, options.signal))
      const fetcher = new ManifestFetcher(this.fetchContext(), manifest, { ...options, origin })
      const report = await fetcher.run()

      this.log.info({ master, ...report }, 'master materialized')
      return { manifest, report }
    } finally {
      this.gossip.wantMaster(master, false)
    }
  }

  private async fetchManifest(id: ContentId, options: MaterializeOptions): Promise<Materialized> {
    const manifest = this.manifests.get(id) ?? (await this.manifestById(id, options.signal))
    // No origin: every chunk comes from peers that hold it.
    const fetcher = new ManifestFetcher(this.fetchContext(), manifest, {
      onProgress: options.onProgress,
      signal: options.signal,
    })
    const report = await fetcher.run()

    this.log.info(report, 'manifest materialized from peers')
    return { manifest, report }
  }

  /**
   * A manifest by id from a peer: those that announced holding its first chunk first, then a
   * few other connected peers, which answer "missing" when they do not know it.
   */
  private async manifestById(id: ContentId, signal?: AbortSignal): Promise<KnownManifest> {
    const started = Date.now()

    while (Date.now() - started < MANIFEST_FROM_PEERS_WAIT_MS) {
      const announced = this.view.holders(id, 0)
      const others = [...this.view.peers()]
        .map(([peer]) => peer)
        .filter((peer) => this.view.isConnected(peer) && !announced.includes(peer))
        .slice(0, MANIFEST_ASK_PEERS)

      for (const peer of [...announced, ...others]) {
        const known = await this.askManifest(peer, id, signal)
        if (known !== undefined) {
          return known
        }
      }

      await sleep(MANIFEST_ASK_INTERVAL_MS, undefined, { signal })
    }

    throw new PressmeshError(
      'MANIFEST_UNAVAILABLE',
      `no peer could give manifest ${id} within ${MANIFEST_FROM_PEERS_WAIT_MS / 1000} s`,
    )
  }

  private async askManifest(peer: string, id: ContentId, signal?: AbortSignal) {
    try {
      const bytes = await requestManifest(this.host, peer, id, signal)

      // The id is the BLAKE3 of the bytes: a peer cannot pass off another manifest.
      if (bytes !== undefined && blake3Hex(bytes) === id) {
        return await this.manifests.add(parseManifest(bytes))
      }
    } catch (err) {
      signal?.throwIfAborted()
      this.log.debug({ peer, manifest: id, err: errorMessage(err) }, 'manifest request failed')
    }

    return undefined
  }

  private fetchContext() {
    return {
      host: this.host,
      store: this.store,
      view: this.view,
      gossip: this.gossip,
      metrics: this.metrics,
      log: this.log.child({ component: 'node:fetcher' }),
    }
  }

  /**
   * The master's manifest: known already, beside the master on the storage server, from a peer
   * that built it, or built here by streaming the master once when this node is the one elected
   * among those that want it.
   */
  private async resolveManifest(origin: Origin, signal?: AbortSignal): Promise<KnownManifest> {
    const known = this.manifests.forMaster(origin.url)
    if (known !== undefined) {
      return known
    }

    let originDown = false
    try {
      const beside = await origin.manifestBeside(signal)
      if (beside !== undefined) {
        return this.manifests.add(beside, origin.url)
      }
    } catch (err) {
      if (!isPressmeshError(err, 'ORIGIN_UNREACHABLE')) {
        throw err
      }

      originDown = true
      this.log.warn(
        { master: origin.url },
        'storage server unreachable, asking peers for the manifest',
      )
    }

    return this.manifestFromMesh(origin, originDown, signal)
  }

  private async manifestFromMesh(origin: Origin, originDown: boolean, signal?: AbortSignal) {
    const started = Date.now()

    while (true) {
      signal?.throwIfAborted()

      const fromPeer = await this.manifestFromPeers(origin.url, signal)
      if (fromPeer !== undefined) {
        return fromPeer
      }

      // While a live peer streams the master, waiting costs less than a second copy of it.
      const building = this.view.someoneBuilding(origin.url)
      const waited = building ? 0 : Date.now() - started
      const elected = rendezvous(origin.url, this.view.wantingMaster(origin.url)) === this.peerId

      if (
        !originDown &&
        !building &&
        Date.now() - started >= SETTLE_MS &&
        (elected || waited >= ELECTION_WAIT_MS)
      ) {
        return await this.indexFromOrigin(origin, signal)
      }

      if (originDown && waited >= 4 * ELECTION_WAIT_MS) {
        throw new PressmeshError(
          'MASTER_UNAVAILABLE',
          `${origin.url}: the storage server is unreachable and no peer has its manifest`,
        )
      }

      await sleep(100, undefined, { signal })
    }
  }

  private async manifestFromPeers(master: string, signal?: AbortSignal) {
    for (const [peer, id] of this.view.manifestsForMaster(master)) {
      try {
        await this.ensureConnected(peer, signal)
        const bytes = await requestManifest(this.host, peer, id, signal)

        if (bytes !== undefined && blake3Hex(bytes) === id) {
          return await this.manifests.add(parseManifest(bytes), master)
        }
      } catch (err) {
        this.log.debug({ peer, err: errorMessage(err) }, 'manifest request failed')
      }
    }

    return undefined
  }

  private async indexFromOrigin(origin: Origin, signal?: AbortSignal): Promise<KnownManifest> {
    this.log.info({ master: origin.url }, 'no manifest beside the master: streaming it once')
    this.gossip.buildMaster(origin.url, true)

    try {
      const parsed = await origin.index(
        chunkerParams(),
        (chunk) => this.store.put(chunk.id, chunk.pieces, { verified: true }),
        signal,
      )
      const known = await this.manifests.add(parsed, origin.url)
      // Tell the others where the manifest is before saying we stopped building it.
      await this.gossip.announceNow(known, false)
      return known
    } finally {
      this.gossip.buildMaster(origin.url, false)
    }
  }

  private async wire(): Promise<void> {
    await startChunkService({
      host: this.host,
      store: this.store,
      manifests: this.manifests,
      view: this.view,
      metrics: this.metrics,
      log: this.log.child({ component: 'node:chunk-service' }),
    })

    this.host.addEventListener('peer:connect', (event) => {
      this.view.setConnected(event.detail.toString(), true)
    })
    this.host.addEventListener('peer:disconnect', (event) => {
      this.log.debug({ peer: event.detail.toString() }, 'peer disconnected')
      this.view.setConnected(event.detail.toString(), false)
    })

    this.view.onChange(() => this.dialNewPeers())

    for (const known of this.manifests.all()) {
      this.gossip.track(known, false)
    }

    this.gossip.start()
    await this.tasks.start()
  }

  private async ensureConnected(peer: string, signal?: AbortSignal): Promise<void> {
    const presence = this.view.presenceOf(peer)

    if (this.view.isConnected(peer) || presence === undefined) {
      return
    }

    await this.host.dial(this.addrsOf(peer, presence.addrs), { signal })
  }

  private addrsOf(peer: string, addrs: string[]) {
    return addrs.map((addr) => multiaddr(`${addr.replace(/\/p2p\/.*$/, '')}/p2p/${peer}`))
  }

  /** Peers learnt of through gossip (relayed by the bootstrap) are dialled directly. */
  private dialNewPeers(): void {
    for (const [peer, presence] of this.view.peers()) {
      if (peer === this.peerId || this.view.isConnected(peer) || this.dialing.has(peer)) {
        continue
      }

      this.dialing.add(peer)
      this.host
        .dial(this.addrsOf(peer, presence.addrs))
        .catch((err) => this.log.debug({ peer, err: errorMessage(err) }, 'dial failed'))
        .finally(() => setTimeout(() => this.dialing.delete(peer), 2_000).unref())
    }
  }
}
