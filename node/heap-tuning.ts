import { setFlagsFromString } from 'node:v8'

/**
 * How far above the live heap V8 may let the old generation (plus the buffer memory allocated
 * since the last full collection) grow before it starts the next full collection, in percent.
 */
const HEAP_GROWING_PERCENT = 400

/**
 * Lets a node's old generation grow to five times its live heap between full collections.
 *
 * V8 counts every buffer allocated since the last mark-compact against the old generation's
 * limit, and it sets that limit only 1.1–2x above the live heap. A node's live heap is about
 * 30 MB, while its traffic is hundreds of MB/s of short-lived buffers (socket reads, Noise
 * messages, chunk pieces). With V8's own factor it ran a full mark-compact every 20–30 MB of
 * traffic, each costing about 100 ms of CPU; a fixed factor of 5 cuts their number about
 * threefold. The flag is read each time the limit is set, so setting it after start is safe.
 */
export function tuneHeapForStreaming(): void {
  if (process.env.PRESSMESH_HEAP_TUNING === 'off') {
    return
  }
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
}
