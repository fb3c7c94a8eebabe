/** Bytes of chunks asked of one peer and not answered yet (at least one chunk). */
export const PEER_WINDOW_BYTES = 16 * 1024 * 1024
/** Bytes of chunks asked of all peers together and not answered yet (at least one chunk). */
export const FETCH_WINDOW_BYTES = 64 * 1024 * 1024
/** Chunks asked for in one request (one stream) to a peer. */
export const PEER_BATCH = 8
/**
 * Range requests in flight to the storage server from one node. A slot is held until the chunk
 * is verified and stored, so with fewer a busy node left the capped origin idle between passes.
 */
export const ORIGIN_CONCURRENCY = 8
/** A request slower than this gets a second source (hedging). */
export const HEDGE_AFTER_MS = 4_000
/** How long a node waits for the elected node (origin fetcher or site puller) before acting. */
export const ELECTION_WAIT_MS = 8_000
/** Time after a fetch starts for the peers' wants to arrive before anyone goes to the origin. */
export const SETTLE_MS = 600
/** Sooner than SETTLE_MS once the set of interested nodes has not changed for this long. */
export const SETTLE_QUIET_MS = 150
/** Scheduling tick when nothing else wakes the fetcher. */
export const TICK_MS = 100
/** A peer that failed a request is skipped for this long. */
export const PEER_COOLDOWN_MS = 5_000
/** The storage server failed: leave it alone for this long. */
export const ORIGIN_COOLDOWN_MS = 2_000
/** A fetch with no progress at all for this long fails. */
export const STALL_LIMIT_MS = 5 * 60_000
