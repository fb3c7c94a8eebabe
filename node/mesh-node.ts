import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { chunkerParams } from '../protocol/chunker/params.ts'
import { errorMessage, isPressmeshError, PressmeshError } from '../protocol/errors.ts'
import { blake3Hex } from '../protocol/hash.ts'
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

// A mesh node: a libp2p host, a chunk store, the gossip agent that announces what the node holds
// and learns what others hold, the chunk service that serves peers, and the fetcher that brings
// masters in. `materialize` is what tasks call to get a master into the local store.

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
  slots: number
  /** The node's HTTP endpoint, announced in presence for operators. */
  httpUrl?: string
}

export interface MaterializeOptions {
  onProgress?: (progress: FetchProgress) => void
  signal?: AbortSignal
}

export interface Materialized {
  manifest: KnownManifest
  report: FetchReport
}

export class MeshNode {
  readonly metrics: NodeMetrics
  private fetching = 0
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
  }

  static async start(config: MeshNodeConfig, log = logger('node')): Promise<MeshNode> {
    const privateKey = await loadOrCreatePeerKey(join(config.dataDir, 'peer-key'))
    const store = await ChunkStore.open({
      dir: join(config.dataDir, 'store'),
      capacityBytes: config.capacityBytes,
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
      slots: () => Math.max(0, config.slots - (node?.fetching ?? 0)),
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

  async stop(): Promise<void> {
    this.gossip.stop()
    await this.host.stop()
    await this.store.close()
  }

  /** Brings every chunk of a master into the local store: from peers first, then the origin. */
  async materialize(master: string, options: MaterializeOptions = {}): Promise<Materialized> {
    this.fetching++
    // Said before anything else, so that peers count this node in elections from the start.
    this.gossip.wantMaster(master, true)

    try {
      const origin = openOrigin(master, { onBytes: (n) => this.metrics.bytesFromOrigin.inc(n) })
      const manifest = await this.resolveManifest(origin, options.signal)
      const fetcher = new ManifestFetcher(this.fetchContext(), manifest, { ...options, origin })
      const report = await fetcher.run()

      this.log.info({ master, ...report }, 'master materialized')
      return { manifest, report }
    } finally {
      this.gossip.wantMaster(master, false)
      this.fetching--
    }
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
