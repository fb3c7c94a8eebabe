import type { ContentId } from '../../protocol/hash.ts'
import { Bitfield } from '../../protocol/mesh/bitfield.ts'
import type { Have, Presence } from '../../protocol/mesh/gossip.ts'

// What this node believes about the rest of the mesh, from gossip: every peer's presence, which
// chunks of which manifests each peer holds and still wants, and which peers are banned. The
// fetcher reads it; listeners are woken on every change.

export const BAN_MS = 10 * 60_000
/** A peer whose last presence is older than this is taken for gone. */
export const PRESENCE_TTL_MS = 10_000

interface PeerHave {
  bits: Bitfield
  wanting: boolean
  site: string
}

/** See SwarmView.survey. */
export interface Survey {
  /** Connected, unbanned peers whose bitfield for the manifest has the chunk. */
  holders(index: number): string[]
  /** This node and the live peers (of `site`, if given) that want the chunk and lack it. */
  wanting(index: number, site?: string): string[]
}

export class SwarmView {
  private readonly presence = new Map<string, Presence>()
  private readonly seen = new Map<string, number>()
  /** When each peer last announced more chunks than before, for any manifest. */
  private readonly progressed = new Map<string, number>()
  private readonly haves = new Map<ContentId, Map<string, PeerHave>>()
  private readonly masters = new Map<string, Map<string, ContentId>>()
  private readonly bans = new Map<string, number>()
  private readonly connected = new Set<string>()
  private readonly listeners = new Set<() => void>()

  constructor(
    readonly self: string,
    readonly site: string,
    private readonly now: () => number = Date.now,
  ) {}

  onChange(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  setPresence(peer: string, presence: Presence): void {
    this.presence.set(peer, presence)
    this.seen.set(peer, this.now())
    this.changed()
  }

  setHave(peer: string, have: Have): void {
    const bits = Bitfield.fromBase64(have.bits, have.chunks)
    let peers = this.haves.get(have.manifest)

    if (peers === undefined) {
      peers = new Map()
      this.haves.set(have.manifest, peers)
    }

    const previous = peers.get(peer)
    if (previous === undefined || bits.count > previous.bits.count) {
      this.progressed.set(peer, this.now())
    }

    peers.set(peer, { bits, wanting: have.wanting, site: have.site })
    this.seen.set(peer, this.now())

    if (have.master !== undefined) {
      const byPeer = this.masters.get(have.master) ?? new Map<string, ContentId>()
      byPeer.set(peer, have.manifest)
      this.masters.set(have.master, byPeer)
    }

    this.changed()
  }

  setConnected(peer: string, connected: boolean): void {
    // A dropped connection alone does not make a peer gone (connections are redialled and
    // deduplicated all the time); its presence going stale does. Holders must be connected.
    if (connected) {
      this.connected.add(peer)
    } else {
      this.connected.delete(peer)
    }

    this.changed()
  }

  isConnected(peer: string): boolean {
    return this.connected.has(peer)
  }

  ban(peer: string): void {
    this.bans.set(peer, this.now() + BAN_MS)
    this.changed()
  }

  isBanned(peer: string): boolean {
    const until = this.bans.get(peer)

    if (until === undefined) {
      return false
    }

    if (until <= this.now()) {
      this.bans.delete(peer)
      return false
    }

    return true
  }

  /** Milliseconds since the peer last announced new chunks (Infinity if never). */
  sinceProgress(peer: string): number {
    const at = this.progressed.get(peer)
    return at === undefined ? Number.POSITIVE_INFINITY : this.now() - at
  }

  siteOf(peer: string): string {
    return this.presence.get(peer)?.site ?? 'unknown'
  }

  presenceOf(peer: string): Presence | undefined {
    return this.presence.get(peer)
  }

  peers(): IterableIterator<[string, Presence]> {
    return this.presence.entries()
  }

  /** Connected, unbanned peers whose bitfield for the manifest has the chunk. */
  holders(manifest: ContentId, index: number): string[] {
    return this.survey(manifest).holders(index)
  }

  /** How many nodes (this one included) want the manifest, or its master, now. */
  interested(manifest: ContentId, master?: string): number {
    return this.survey(manifest, master).wanting(-1).length
  }

  /** How many nodes are live now: this one and the peers heard from lately and not banned. */
  liveNodes(): number {
    let live = 1
    for (const peer of this.seen.keys()) {
      if (this.alive(peer)) {
        live++
      }
    }
    return live
  }

  /**
   * Who holds and who wants a manifest's chunks, as of now. A scheduling pass takes one and asks
   * it about every chunk: the peers' liveness, connections and bans are checked once, not once
   * per chunk. Holders must be connected and unbanned; wanters must be live (heard from within
   * PRESENCE_TTL_MS) and unbanned, and this node always counts as one. Peers that announced they
   * want the master but have not announced the manifest yet count as wanting every chunk, so that
   * nodes that start at slightly different times agree on who is elected.
   */
  survey(manifest: ContentId, master?: string): Survey {
    const self = this.self
    const holding: Bitfield[] = []
    const holdingPeers: string[] = []
    // Peers that want chunks, each with its bitfield if it announced one (this node is added to
    // every answer).
    const wanters: Array<{ peer: string; bits?: Bitfield; site: string }> = []
    const announced = this.haves.get(manifest)

    for (const [peer, have] of announced ?? []) {
      if (this.usable(peer)) {
        holding.push(have.bits)
        holdingPeers.push(peer)
      }
      if (have.wanting && this.alive(peer)) {
        wanters.push({ peer, bits: have.bits, site: have.site })
      }
    }

    if (master !== undefined) {
      for (const [peer, presence] of this.presence) {
        if (!announced?.has(peer) && presence.wants.includes(master) && this.alive(peer)) {
          wanters.push({ peer, site: presence.site })
        }
      }
    }

    return {
      holders(index) {
        const found: string[] = []
        for (let i = 0; i < holding.length; i++) {
          if (holding[i].has(index)) {
            found.push(holdingPeers[i])
          }
        }
        return found
      },
      wanting(index, site) {
        const found = [self]
        for (const wanter of wanters) {
          if ((site === undefined || wanter.site === site) && !wanter.bits?.has(index)) {
            found.push(wanter.peer)
          }
        }
        return found
      },
    }
  }

  /** Live peers that announced they want a master they have no manifest for. */
  wantingMaster(master: string): string[] {
    const peers = [this.self]

    for (const [peer, presence] of this.presence) {
      if (presence.wants.includes(master) && this.alive(peer)) {
        peers.push(peer)
      }
    }

    return peers
  }

  /** Whether a live peer is streaming the master from the storage server right now. */
  someoneBuilding(master: string): boolean {
    for (const [peer, presence] of this.presence) {
      if (presence.building.includes(master) && this.alive(peer)) {
        return true
      }
    }

    return false
  }

  /** Heard from recently (directly or relayed) and not banned. */
  alive(peer: string): boolean {
    const seen = this.seen.get(peer)
    return (
      peer !== this.self &&
      seen !== undefined &&
      this.now() - seen < PRESENCE_TTL_MS &&
      !this.isBanned(peer)
    )
  }

  /** Manifest ids peers announced for a master URL, with the peers that hold them. */
  manifestsForMaster(master: string): Map<string, ContentId> {
    const usable = new Map<string, ContentId>()

    for (const [peer, manifest] of this.masters.get(master) ?? []) {
      if (this.alive(peer) || this.usable(peer)) {
        usable.set(peer, manifest)
      }
    }

    return usable
  }

  forget(peer: string): void {
    this.connected.delete(peer)
    this.changed()
  }

  private usable(peer: string): boolean {
    return peer !== this.self && this.connected.has(peer) && !this.isBanned(peer)
  }

  private changed(): void {
    for (const listener of this.listeners) {
      listener()
    }
  }
}
