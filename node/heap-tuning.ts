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

/**
 * glibc malloc settings for a node process, as the GLIBC_TUNABLES environment variable: buffers
 * under 8 MiB come from malloc's heap rather than from a fresh mmap each, and freed memory stays
 * in the process until 512 MiB of it is free at the heap's top (glibc's default gives memory back
 * at 128 KiB, and its adaptive thresholds settle at about twice the largest buffer freed).
 *
 * A node frees and allocates chunk-sized buffers all the time; handing their pages back and
 * faulting fresh ones in for the next buffer costs a page fault per 4 KiB, and on a virtual
 * machine that returns idle memory to its host, more. Measured on the four-node benchmark round:
 * about 10% fewer page faults per node and about 4% less CPU. malloc reads the variable only when a
 * process starts, so it is set for the child by whatever starts a node (`pressmesh dev`, the
 * container image, the test and benchmark helpers).
 */
export const NODE_MALLOC_TUNABLES =
  'glibc.malloc.mmap_threshold=8388608:glibc.malloc.trim_threshold=536870912'

/** The environment for a child node process: `env` with NODE_MALLOC_TUNABLES unless it sets its own. */
export function withMallocTuning(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.GLIBC_TUNABLES !== undefined || env.PRESSMESH_MALLOC_TUNING === 'off') {
    return env
  }
  return { ...env, GLIBC_TUNABLES: NODE_MALLOC_TUNABLES }
}
