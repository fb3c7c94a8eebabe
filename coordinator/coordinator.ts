import { mkdir } from 'node:fs/promises'
import type { Server } from 'node:http'
import { join } from 'node:path'
import { serve } from '@hono/node-server'
import type { NodeView } from '../protocol/api.ts'
import { errorMessage, NotFoundError, PressmeshError } from '../protocol/errors.ts'
import { DEFAULT_LEASE_MS, type JobSubmit } from '../protocol/jobs.ts'
import { type Logger, logger } from '../protocol/logger.ts'
import type { Presence } from '../protocol/mesh/gossip.ts'
import { createMeshHost } from '../protocol/mesh/host.ts'
import { loadOrCreatePeerKey } from '../protocol/mesh/keys.ts'
import { coordinatorApp } from './api.ts'
import { type Principal, TokenBook } from './auth.ts'
import { CoordinatorDb } from './db.ts'
import { Dispatcher } from './dispatcher.ts'
import { EventBus } from './event-bus.ts'
import { JobBook } from './job-book.ts'
import { MeshLink, NODE_ALIVE_MS } from './mesh-link.ts'
import { type CoordinatorMetrics, createCoordinatorMetrics } from './metrics.ts'
import type { NodeRecord } from './records.ts'

// The coordinator: a peer of the mesh (and its bootstrap address) that keeps the book of jobs in
// LevelDB, dispatches tasks to nodes, and serves the HTTP API.

export interface CoordinatorConfig {
  dataDir: string
  /** Multiaddrs the mesh side listens on; a fixed port lets nodes find it again after a restart. */
  listen: string[]
  httpHost: string
  httpPort: number
  /** Where media go: a folder, or an http(s) WebDAV collection URL. */
  media: string
  psk?: Uint8Array
  allowPeers?: ReadonlySet<string>
  leaseMs?: number
  /** Where the first start writes the admin token (default <data>/admin-token). */
  adminTokenFile?: string
}

export class Coordinator {
  private constructor(
    readonly config: CoordinatorConfig,
    readonly db: CoordinatorDb,
    readonly book: JobBook,
    readonly tokens: TokenBook,
    readonly link: MeshLink,
    readonly dispatcher: Dispatcher,
    readonly bus: EventBus,
    readonly metrics: CoordinatorMetrics,
    private readonly draining: Map<string, NodeRecord>,
    /** The admin token, when this start created it. */
    readonly createdAdminToken: string | undefined,
    private readonly log: Logger,
  ) {}

  static async start(config: CoordinatorConfig, log = logger('coordinator')): Promise<Coordinator> {
    await mkdir(config.dataDir, { recursive: true })
    const leaseMs = config.leaseMs ?? DEFAULT_LEASE_MS
    const db = await CoordinatorDb.open(join(config.dataDir, 'db'))
    const book = await JobBook.open(db, leaseMs)
    const tokens = await TokenBook.open(db)
    const createdAdminToken = await tokens.ensureAdmin(
      config.adminTokenFile ?? join(config.dataDir, 'admin-token'),
    )
    const metrics = createCoordinatorMetrics()
    const bus = new EventBus()

    const nodes = new Map<string, NodeRecord>()
    for await (const record of db.sub.nodes.values()) {
      nodes.set(record.peer, record)
    }

    const host = await createMeshHost({
      privateKey: await loadOrCreatePeerKey(join(config.dataDir, 'peer-key')),
      listen: config.listen,
      psk: config.psk,
      allowPeers: config.allowPeers,
    })

    // The link's callbacks need the dispatcher, which needs the link.
    let dispatcher: Dispatcher | undefined
    let coordinator: Coordinator | undefined
    const link = new MeshLink(
      host,
      {
        onPresence: (peer, presence) => coordinator?.presenceSeen(peer, presence),
        onHeartbeat: (peer, heartbeat) => dispatcher?.heartbeat(peer, heartbeat),
        onResult: async (peer, result) => dispatcher?.result(peer, result),
      },
      metrics,
      log.child({ component: 'coordinator:mesh' }),
    )
    dispatcher = new Dispatcher({
      book,
      link,
      metrics,
      log: log.child({ component: 'coordinator:dispatch' }),
      leaseMs,
      media: { location: config.media },
      draining: (peer) => nodes.get(peer)?.draining === true,
    })

    book.on('job', (job) => {
      bus.publish('job', job, job.id)
      if (job.state === 'succeeded' || job.state === 'failed' || job.state === 'cancelled') {
        metrics.jobsFinished.inc({ state: job.state })
      }
    })
    book.on('task', (task) => bus.publish('task', task, task.job))

    coordinator = new Coordinator(
      config,
      db,
      book,
      tokens,
      link,
      dispatcher,
      bus,
      metrics,
      nodes,
      createdAdminToken,
      log,
    )

    const self = coordinator
    const app = coordinatorApp({
      book,
      tokens,
      bus,
      metrics,
      log: log.child({ component: 'coordinator:api' }),
      submit: (spec, by) => self.submit(spec, by),
      nodes: () => self.nodeViews(),
      mesh: () => ({ peerId: self.peerId, addresses: self.addresses() }),
      drain: (peer, drain) => self.drain(peer, drain),
    })
    coordinator.server = await listen(config, app.fetch)

    await link.start()
    dispatcher.start()
    coordinator.redialKnownNodes()
    coordinator.gaugeTimer = setInterval(() => coordinator?.updateGauges(), 1_000)
    coordinator.gaugeTimer.unref()
    return coordinator
  }

  private gaugeTimer: NodeJS.Timeout | undefined
  private server!: Server

  get peerId(): string {
    return this.link.peerId
  }

  /** Mesh addresses with /p2p/<id>, for nodes' --bootstrap. */
  addresses(): string[] {
    return this.link.host.getMultiaddrs().map((addr) => addr.toString())
  }

  get url(): string {
    const address = this.server.address()
    const port =
      typeof address === 'object' && address !== null ? address.port : this.config.httpPort
    return `http://${this.config.httpHost}:${port}`
  }

  async stop(): Promise<void> {
    clearInterval(this.gaugeTimer)
    this.dispatcher.stop()
    this.bus.closeAll()
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve())
      // Event streams stay open otherwise.
      ;(this.server as Server & { closeAllConnections?: () => void }).closeAllConnections?.()
    })
    await this.link.host.stop()
    await this.db.close()
  }

  /** What POST /api/v1/jobs does: a preheat job's targets are resolved against the mesh now. */
  async submit(spec: JobSubmit, by: Principal) {
    if (spec.kind !== 'preheat') {
      return this.book.submit(spec, by.name)
    }

    const target = spec.preheat ?? {}
    // Drained nodes take no new tasks, preheat ones included.
    const draining = (peer: string) => this.draining.get(peer)?.draining === true
    const production = [...this.link.nodes.values()].filter(
      (node) =>
        this.link.alive(node.peer) &&
        node.presence.roles.includes('production') &&
        !draining(node.peer),
    )
    let peers: string[]
    if (target.nodes !== undefined) {
      const unknown = target.nodes.filter((peer) => !this.link.nodes.has(peer))
      if (unknown.length > 0) {
        throw new PressmeshError('NODE_NOT_FOUND', `no node ${unknown.join(', ')} in the mesh`)
      }
      const drained = target.nodes.filter(draining)
      if (drained.length > 0) {
        throw new PressmeshError(
          'NODE_DRAINING',
          `node ${drained.join(', ')} is draining; undo it (pressmesh drain --undo) or pick others`,
        )
      }

      peers = [...new Set(target.nodes)]
    } else if (target.eachSite) {
      const bySite = new Map<string, (typeof production)[number]>()
      for (const node of production) {
        const best = bySite.get(node.presence.site)
        if (best === undefined || node.presence.load < best.presence.load) {
          bySite.set(node.presence.site, node)
        }
      }
      peers = [...bySite.values()].map((node) => node.peer)
    } else if (target.sites !== undefined) {
      const sites = new Set(target.sites)
      peers = production.filter((node) => sites.has(node.presence.site)).map((node) => node.peer)
    } else {
      peers = production.map((node) => node.peer)
    }

    if (peers.length === 0) {
      throw new PressmeshError(
        'NO_MATCHING_NODES',
        'no live production node matches the preheat target',
      )
    }
    return this.book.submit(spec, by.name, { nodes: peers })
  }

  nodeViews(): NodeView[] {
    const peers = new Set([...this.link.nodes.keys(), ...this.draining.keys()])
    return [...peers].map((peer) => this.nodeView(peer)).filter((view) => view !== undefined)
  }

  private nodeView(peer: string): NodeView | undefined {
    const state = this.link.nodes.get(peer)
    const record = this.draining.get(peer)
    if (state === undefined && record === undefined) {
      return undefined
    }
    const presence = state?.presence
    return {
      peer,
      roles: presence?.roles ?? [],
      site: presence?.site ?? '',
      slots: presence?.slots ?? 0,
      load: presence?.load ?? 0,
      freeDiskBytes: presence?.freeDiskBytes ?? 0,
      version: presence?.version ?? '',
      http: presence?.http,
      addrs: presence?.addrs ?? record?.addrs ?? [],
      connected: this.link.connected(peer),
      alive: this.link.alive(peer),
      draining: record?.draining === true,
      lastSeen: state?.lastSeen ?? record?.lastSeen ?? 0,
      running: this.dispatcher.held(peer),
    }
  }

  async drain(peer: string, drain: boolean): Promise<NodeView> {
    const state = this.link.nodes.get(peer)
    const record = this.draining.get(peer)
    if (state === undefined && record === undefined) {
      throw new NotFoundError('NODE_NOT_FOUND', `no node ${peer} has been seen`)
    }
    const updated: NodeRecord = {
      peer,
      draining: drain,
      addrs: state?.presence.addrs ?? record?.addrs ?? [],
      lastSeen: state?.lastSeen ?? record?.lastSeen ?? Date.now(),
    }
    await this.db.commit([{ type: 'put', sublevel: 'nodes', key: peer, value: updated }])
    this.draining.set(peer, updated)
    const view = this.nodeView(peer)!
    this.bus.publish('node', view)
    this.log.info({ peer, drain }, drain ? 'node draining' : 'node no longer draining')
    this.dispatcher.wake()
    return view
  }

  private presenceSeen(peer: string, presence: Presence): void {
    const state = this.link.nodes.get(peer)
    if (state !== undefined) {
      this.dispatcher.noteAnnounce(state)
    }

    // Remember where nodes are, so that a restarted coordinator can call them.
    const record = this.draining.get(peer)
    const addrs = presence.addrs
    if (record === undefined || record.addrs.join() !== addrs.join()) {
      const updated = { peer, draining: record?.draining ?? false, addrs, lastSeen: Date.now() }
      this.draining.set(peer, updated)
      void this.db
        .commit([{ type: 'put', sublevel: 'nodes', key: peer, value: updated }])
        .catch(() => undefined)
    }

    const view = this.nodeView(peer)
    if (view !== undefined) {
      this.bus.publish('node', view)
    }
  }

  private redialKnownNodes(): void {
    for (const record of this.draining.values()) {
      if (record.addrs.length > 0) {
        this.link
          .dial(record.peer, record.addrs)
          .catch((err) =>
            this.log.debug(
              { peer: record.peer, err: errorMessage(err) },
              'known node not reachable',
            ),
          )
      }
    }
  }

  private updateGauges(): void {
    const now = Date.now()
    let queued = 0
    let held = 0
    for (const task of this.book.tasks.values()) {
      if (task.state === 'queued') queued++
      if (task.state === 'assigned' || task.state === 'running') held++
    }
    this.metrics.tasksQueued.set(queued)
    this.metrics.tasksHeld.set(held)
    this.metrics.nodesAlive.set(
      [...this.link.nodes.keys()].filter((peer) => this.link.alive(peer, now)).length,
    )
    this.metrics.jobsActive.set(this.book.activeCount())
  }
}

function listen(
  config: CoordinatorConfig,
  fetch: (request: Request) => Response | Promise<Response>,
) {
  return new Promise<Server>((resolve, reject) => {
    const server = serve({ fetch, port: config.httpPort, hostname: config.httpHost }, () =>
      resolve(server as Server),
    ) as Server
    server.once('error', reject)
  })
}

export { NODE_ALIVE_MS }
