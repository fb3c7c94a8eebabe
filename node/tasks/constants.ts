// Defaults of the node's task side, the unit in the name.

/** Concurrent inbound dispatch streams per connection (the coordinator offers many at once). */
export const MAX_INBOUND_DISPATCH_STREAMS = 128
/** Tasks held at once (working or reporting), whatever the slots: bounds memory and heartbeats. */
export const MAX_HELD_TASKS = 256
/** First wait before a result is sent again; it doubles up to RESULT_RETRY_MAX_MS. */
export const RESULT_RETRY_BASE_MS = 500
export const RESULT_RETRY_MAX_MS = 10_000
/** A result no coordinator has taken after this long is given up (and logged). */
export const RESULT_GIVE_UP_MS = 10 * 60_000
/** How long a master named by manifest id may take to turn up at some peer. */
export const MANIFEST_FROM_PEERS_WAIT_MS = 8_000
/** Between two rounds of asking peers for a manifest by id. */
export const MANIFEST_ASK_INTERVAL_MS = 500
/** Peers asked for a manifest by id in one round, besides those that announced it. */
export const MANIFEST_ASK_PEERS = 8
/** A HEAD of a master that failed to load, to tell a missing one from a failing server. */
export const MASTER_PROBE_TIMEOUT_MS = 10_000
/** On stop: time for aborted tasks to end and deliver their results. */
export const STOP_GRACE_MS = 3_000
/** Pin holders `task-slot:<n>` checked for leftovers of a crash at start. */
export const PIN_SLOTS_SWEPT = 64
/** Least time between two heartbeats sent because a task started or changed phase. */
export const BEAT_SOON_MS = 250
