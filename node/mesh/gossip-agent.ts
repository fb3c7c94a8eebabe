import { loadavg, cpus } from 'node:os'
import { statfs } from 'node:fs/promises'
import { errorMessage } from '../../protocol/errors.ts'
import type { ContentId } from '../../protocol/hash.ts'
import type { Logger } from '../../protocol/logger.ts'
import { Bitfield } from '../../protocol/mesh/bitfield.ts'
import { decodeGossip, encodeGossip, type Have, type Presence } from '../../protocol/mesh/gossip.ts'
import type { MeshHost } from '../../protocol/mesh/host.ts'
import { HAVE_TOPIC, PRESENCE_TOPIC } from '../../protocol/mesh/protocol-ids.ts'
import { PRESSMESH_VERSION } from '../../protocol/constants.ts'
import type { ChunkStore } from '../chunk-store/store.ts'
import type { NodeMetrics } from '../metrics.ts'
import type { KnownManifest } from './manifest-registry.ts'
import type { SwarmView } from './swarm-view.ts'

// Presence and have-announcements. A node announces, per manifest it takes part in, a bitfield
// of the chunks it holds: on change (debounced) and every few seconds for peers that joined
// since. Incoming gossip is validated; a malformed message is counted and dropped.

export const HAVE_DEBOUNCE_MS = 100
export const ANNOUNCE_INTERVAL_MS = 3_000

export interface GossipAgentInit {
  host: MeshHost
  store: ChunkStore
  view: SwarmView
  metrics: NodeMetrics
  log: Logger
  site: string
  roles: Presence['roles']
  slots: () => number
  dataDir: string
  http?: string
}

interface Tracked {
  known: KnownManifest
  bits: Bitfield
  wanting: boolean
}

export class GossipAgent {
  private readonly tracked = new Map<ContentId, Tracked>()
  private readonly dirty = new Set<ContentId>()
  private readonly wants = new Set<string>()
  private readonly building = new Set<string>()
  private flushTimer: NodeJS.Timeout | undefined
  private announceTimer: NodeJS.Timeout | undefined
  private soonTimer: NodeJS.Timeout | undefined
  private unsubscribeStore: (() => void) | undefined

  constructor(private readonly init: GossipAgentInit) {}

  start(): void {
    const pubsub = this.init.host.services.pubsub
    pubsub.subscribe(PRESENCE_TOPIC)
    pubsub.subscribe(HAVE_TOPIC)
    pubsub.addEventListener('message', (event) => this.receive(event.detail))
    // A peer that just subscribed has heard nothing yet: tell it everything, soon.
    pubsub.addEventListener('subscription-change', () => this.announceSoon())

    this.unsubscribeStore = this.init.store.onChange((change) => this.storeChanged(change.id))
    this.announceTimer = setInterval(() => void this.announceAll(), ANNOUNCE_INTERVAL_MS)
    this.announceTimer.unref()
    void this.announceAll()
  }

  stop(): void {
    clearInterval(this.announceTimer)
    clearTimeout(this.flushTimer)
    clearTimeout(this.soonTimer)
    this.unsubscribeStore?.()
  }

  /** Takes part in a manifest: announce what we hold, and whether we still want the rest. */
  track(known: KnownManifest, wanting: boolean): void {
    const existing = this.tracked.get(known.id)
    const bits = existing?.bits ?? new Bitfield(known.order.ids.length)

    known.order.ids.forEach((id, i) => {
      if (this.init.store.has(id)) {
        bits.set(i)
      }
    })

    this.tracked.set(known.id, { known, bits, wanting })
    this.schedule(known.id)
  }

  /** Tracks a manifest and publishes its have-announcement at once, not debounced. */
  async announceNow(known: KnownManifest, wanting: boolean): Promise<void> {
    this.track(known, wanting)
    this.dirty.delete(known.id)
    await this.publishHave(known.id)
  }

  setWanting(manifest: ContentId, wanting: boolean): void {
    const tracked = this.tracked.get(manifest)

    if (tracked !== undefined && tracked.wanting !== wanting) {
      tracked.wanting = wanting
      this.schedule(manifest)
    }
  }

  wantMaster(master: string, wanting: boolean): void {
    if (wanting) {
      this.wants.add(master)
    } else {
      this.wants.delete(master)
    }

    void this.publishPresence()
  }

  buildMaster(master: string, building: boolean): void {
    if (building) {
      this.building.add(master)
    } else {
      this.building.delete(master)
    }

    void this.publishPresence()
  }

  private storeChanged(id: ContentId): void {
    for (const [manifest, tracked] of this.tracked) {
      const index = tracked.known.order.index.get(id)

      if (index === undefined) {
        continue
      }

      if (this.init.store.has(id)) {
        tracked.bits.set(index)
      } else {
        tracked.bits.clear(index)
      }

      this.schedule(manifest)
    }
  }

  private schedule(manifest: ContentId): void {
    this.dirty.add(manifest)
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined
      const manifests = [...this.dirty]
      this.dirty.clear()
      for (const id of manifests) {
        void this.publishHave(id)
      }
    }, HAVE_DEBOUNCE_MS)
  }

  private announceSoon(): void {
    clearTimeout(this.soonTimer)
    this.soonTimer = setTimeout(() => void this.announceAll(), HAVE_DEBOUNCE_MS)
  }

  private async announceAll(): Promise<void> {
    await this.publishPresence()

    for (const manifest of this.tracked.keys()) {
      await this.publishHave(manifest)
    }
  }

  private async publishPresence(): Promise<void> {
    const presence: Presence = {
      v: 1,
      type: 'presence',
      roles: this.init.roles,
      site: this.init.site,
      slots: this.init.slots(),
      load: loadavg()[0] / Math.max(1, cpus().length),
      freeDiskBytes: await freeDisk(this.init.dataDir),
      version: PRESSMESH_VERSION,
      http: this.init.http,
      wants: [...this.wants].slice(0, 64),
      building: [...this.building].slice(0, 64),
      addrs: this.init.host
        .getMultiaddrs()
        .map((addr) => addr.toString())
        .slice(0, 16),
    }

    await this.publish(PRESENCE_TOPIC, encodeGossip(presence))
  }

  private async publishHave(manifest: ContentId): Promise<void> {
    const tracked = this.tracked.get(manifest)

    if (tracked === undefined) {
      return
    }

    const have: Have = {
      v: 1,
      type: 'have',
      manifest,
      master: tracked.known.master,
      site: this.init.site,
      chunks: tracked.bits.length,
      bits: tracked.bits.toBase64(),
      wanting: tracked.wanting,
    }

    await this.publish(HAVE_TOPIC, encodeGossip(have))
  }

  private async publish(topic: string, data: Uint8Array): Promise<void> {
    try {
      await this.init.host.services.pubsub.publish(topic, data)
    } catch (err) {
      this.init.log.debug({ topic, err: errorMessage(err) }, 'publish failed')
    }
  }

  private receive(message: { topic: string; data: Uint8Array; type: string; from?: unknown }) {
    if (message.topic !== PRESENCE_TOPIC && message.topic !== HAVE_TOPIC) {
      return
    }

    if (message.type !== 'signed' || message.from === undefined) {
      this.init.metrics.badGossip.inc()
      return
    }

    const peer = String(message.from)

    try {
      const decoded = decodeGossip(message.data)

      if (decoded.type === 'presence' && message.topic === PRESENCE_TOPIC) {
        this.init.view.setPresence(peer, decoded)
      } else if (decoded.type === 'have' && message.topic === HAVE_TOPIC) {
        this.init.view.setHave(peer, decoded)
      } else {
        this.init.metrics.badGossip.inc()
      }
    } catch (err) {
      this.init.metrics.badGossip.inc()
      this.init.log.debug({ peer, err: errorMessage(err) }, 'dropping malformed gossip')
    }
  }
}

async function freeDisk(dir: string): Promise<number> {
  try {
    const stats = await statfs(dir)
    return stats.bavail * stats.bsize
  } catch {
    return 0
  }
}
