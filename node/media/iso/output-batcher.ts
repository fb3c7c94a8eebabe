import { release } from '../buffer-pool.ts'
import { OUTPUT_BATCH_BYTES } from './constants.ts'

// Gathers small buffers (folder extents, padding, the chunks of small files) into batches of
// about a mebibyte, so the consumer sees few large writes; large chunks pass through uncopied
// (a pooled chunk with its reference, see buffer-pool.ts; a copied one is released).
// Each batch is a fresh buffer: the consumer may keep what it was given.

const PASS_THROUGH_BYTES = 64 * 1024

export class OutputBatcher {
  private batch: Buffer
  private used: number

  constructor() {
    this.batch = Buffer.allocUnsafe(OUTPUT_BATCH_BYTES)
    this.used = 0
  }

  *push(bytes: Uint8Array): Generator<Uint8Array> {
    if (bytes.length >= PASS_THROUGH_BYTES) {
      yield* this.flush()
      yield bytes
      return
    }

    if (this.used + bytes.length > this.batch.length) {
      yield* this.flush()
    }

    this.batch.set(bytes, this.used)
    this.used += bytes.length
    // Copied: a pooled piece's reference ends here (buffer-pool.ts).
    release(bytes)
  }

  /** Adds zero bytes, e.g. the padding to a sector boundary. */
  *zeros(count: number): Generator<Uint8Array> {
    let left = count

    while (left > 0) {
      if (this.used === this.batch.length) {
        yield* this.flush()
      }

      const step = Math.min(left, this.batch.length - this.used)
      this.batch.fill(0, this.used, this.used + step)
      this.used += step
      left -= step
    }
  }

  *flush(): Generator<Uint8Array> {
    if (this.used > 0) {
      yield this.batch.subarray(0, this.used)
      this.batch = Buffer.allocUnsafe(OUTPUT_BATCH_BYTES)
      this.used = 0
    }
  }
}
