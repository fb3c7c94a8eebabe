/** Default capacity of a node's chunk store: 64 GiB. */
export const DEFAULT_CAPACITY_BYTES = 64 * 1024 ** 3

/** Largest chunk the store accepts (the chunker's largest maximum). */
export const MAX_CHUNK_BYTES = 16 * 1024 * 1024

/** How long a read's LRU update waits in memory before it is written to the index. */
export const TOUCH_FLUSH_MS = 1000
/** Bytes of the latest written chunks a store keeps in memory to serve peers' reads. */
export const RECENT_BYTES = 32 * 1024 * 1024

/**
 * Alignment of direct writes' memory, offsets and lengths: the logical block of nearly every
 * disk (512 B or 4 KiB), whichever it is.
 */
export const DIRECT_ALIGNMENT_BYTES = 4096
/** Aligned memory a direct write copies a chunk into, one slot per write in flight. */
export const DIRECT_SLOT_BYTES = 4 * 1024 * 1024
/** Direct writes in flight at once; more wait their turn for a slot. */
export const DIRECT_SLOTS = 4
