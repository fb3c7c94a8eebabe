// Shared memory for chunk reads that is used again once everyone who was handed it is done
// with it, so that writing a medium does not fault in, zero and later unmap a fresh buffer for
// every chunk.
//
// Each buffer from `acquire` is a view of a slab (a SharedArrayBuffer of a power-of-two size)
// and carries a reference count, which starts at one. The rule for passing a pooled buffer on:
// the reference travels with the buffer. Whoever is handed a pooled buffer either hands it on
// (and with it the reference), or calls `release` once it no longer touches the bytes (written,
// hashed, copied). Anyone who keeps the bytes beyond that (a hashing thread, a write in flight)
// takes a reference of its own with `retain` first and releases it when done. The slab goes
// back to the pool only when the count reaches zero, so its memory is never handed out twice
// while in use. A holder that never releases (a test collecting pieces, gzip) is safe: its
// slab is simply not used again and is collected like any other memory.
//
// Memory stays bounded: the buffers in use are bounded by whatever holds them (read-ahead,
// hashing and writes in flight, each bounded), and the pool keeps at most `maxFreeBytes` of
// free slabs; releasing a slab beyond that leaves it to the garbage collector.

export interface BufferPoolInit {
  /** Free slabs kept for reuse, in bytes at most. */
  maxFreeBytes?: number
  /** Requests larger than this get memory of their own, still reference-counted. */
  maxSlabBytes?: number
}

export interface BufferPoolStats {
  /** Slabs allocated fresh. */
  allocated: number
  /** Requests served with a slab used before. */
  reused: number
  /** Slabs in the pool, free. */
  free: number
  freeBytes: number
}

export const DEFAULT_MAX_FREE_BYTES = 96 * 1024 * 1024
export const DEFAULT_MAX_SLAB_BYTES = 16 * 1024 * 1024
/** The smallest slab: smaller requests share its size class. */
const MIN_SLAB_BYTES = 64 * 1024
/** A request may take a free slab up to this many size classes larger than its own. */
const LARGER_CLASSES = 1

interface Lease {
  pool: BufferPool | undefined
  count: number
}

/** The lease of each pooled slab; a slab's lease is replaced each time it is handed out. */
const leases = new WeakMap<ArrayBufferLike, Lease>()

export class BufferPool {
  private readonly maxFreeBytes: number
  private readonly maxSlabBytes: number
  /** Free slabs by size. */
  private readonly free = new Map<number, SharedArrayBuffer[]>()
  private freeBytes = 0
  private allocated = 0
  private reused = 0

  constructor(init: BufferPoolInit = {}) {
    this.maxFreeBytes = init.maxFreeBytes ?? DEFAULT_MAX_FREE_BYTES
    this.maxSlabBytes = init.maxSlabBytes ?? DEFAULT_MAX_SLAB_BYTES
  }

  /** A buffer of exactly `size` bytes in shared memory, holding one reference. */
  acquire(size: number): Buffer {
    if (size > this.maxSlabBytes) {
      const own = new SharedArrayBuffer(size)
      leases.set(own, { pool: undefined, count: 1 })
      this.allocated++
      return Buffer.from(own)
    }

    const slabBytes = slabSize(size)
    let slab = this.take(slabBytes)

    if (slab === undefined) {
      slab = new SharedArrayBuffer(slabBytes)
      this.allocated++
    } else {
      this.reused++
    }

    leases.set(slab, { pool: this, count: 1 })
    return Buffer.from(slab, 0, size)
  }

  stats(): BufferPoolStats {
    let free = 0
    for (const slabs of this.free.values()) {
      free += slabs.length
    }

    return { allocated: this.allocated, reused: this.reused, free, freeBytes: this.freeBytes }
  }

  /** Called once a slab's last reference is released. */
  recycle(slab: SharedArrayBuffer): void {
    if (this.freeBytes + slab.byteLength > this.maxFreeBytes) {
      return
    }

    const slabs = this.free.get(slab.byteLength) ?? []
    slabs.push(slab)
    this.free.set(slab.byteLength, slabs)
    this.freeBytes += slab.byteLength
  }

  private take(slabBytes: number): SharedArrayBuffer | undefined {
    for (let size = slabBytes, i = 0; i <= LARGER_CLASSES; size *= 2, i++) {
      const slab = this.free.get(size)?.pop()

      if (slab !== undefined) {
        this.freeBytes -= slab.byteLength
        return slab
      }
    }

    return undefined
  }
}

/** Whether `bytes` is (a view of) a pooled buffer that is in use. */
export function isPooled(bytes: Uint8Array): boolean {
  return (leases.get(bytes.buffer)?.count ?? 0) > 0
}

/**
 * Takes one more reference to a pooled buffer; false (and nothing to release later) for any
 * other memory.
 */
export function retain(bytes: Uint8Array): boolean {
  const lease = leases.get(bytes.buffer)

  if (lease === undefined) {
    return false
  }

  if (lease.count <= 0) {
    throw new Error('retain of a pooled buffer that was already released')
  }

  lease.count++
  return true
}

/** Gives one reference back; the last one returns the memory to its pool. No-op for others. */
export function release(bytes: Uint8Array): void {
  const lease = leases.get(bytes.buffer)

  if (lease === undefined) {
    return
  }

  if (lease.count <= 0) {
    throw new Error('release of a pooled buffer that was already released')
  }

  lease.count--

  if (lease.count === 0) {
    lease.pool?.recycle(bytes.buffer as SharedArrayBuffer)
  }
}

function slabSize(size: number): number {
  let slab = MIN_SLAB_BYTES

  while (slab < size) {
    slab *= 2
  }

  return slab
}
