/** Default capacity of a node's chunk store: 64 GiB. */
export const DEFAULT_CAPACITY_BYTES = 64 * 1024 ** 3

/** Largest chunk the store accepts (the chunker's largest maximum). */
export const MAX_CHUNK_BYTES = 16 * 1024 * 1024

/** How long a read's LRU update waits in memory before it is written to the index. */
export const TOUCH_FLUSH_MS = 1000
/** Bytes of the latest written chunks a store keeps in memory to serve peers' reads. */
export const RECENT_BYTES = 32 * 1024 * 1024
