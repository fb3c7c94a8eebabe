import { GEAR, log2Round, maskForBits } from './gear.ts'
import { GearScanner } from './gear-wasm.ts'
import type { ChunkerParams } from './params.ts'

// FastCDC 2020 (Xia et al., IEEE TPDS 2020) as a streaming cut-point finder.
//
// The reference (`fastcdc` crate, v2020) rolls two bytes per step with a left-shifted gear
// table. Shifting both the hash and the mask by one bit tests the same bits, so that step equals
// two plain gear steps `h = (h << 1) + GEAR[b]`, each tested against the unshifted mask; what
// the two-byte stepping does decide is which positions are tested, and this class reproduces
// exactly that:
// - positions below 2*floor(min/2) are skipped (sub-minimum cut-point skipping);
// - positions below 2*floor(avg/2) use the stricter mask, later ones the looser (normalization);
// - positions from 2*floor(max/2) are never tested: the chunk ends at `max`;
// - an even position is tested only when the byte after it exists, so at the very end of the
//   data a match on the last byte does not cut.
// A match at position p ends the chunk before byte p. Nothing here depends on how the input is
// split into buffers: a match on the last byte of a buffer waits for the next buffer to decide.

export class FastCdc {
  private readonly skipEnd: number
  private readonly strictEnd: number
  private readonly testEnd: number
  private readonly maxSize: number
  private readonly strictLo: number
  private readonly strictHi: number
  private readonly looseLo: number
  private readonly looseHi: number

  /** Bytes of the current chunk seen so far. */
  private length = 0
  /** Absolute offset of the first byte of the next buffer. */
  private offset = 0
  private readonly scanner = new GearScanner(GEAR)
  /** A match on an even position that ended the previous buffer, waiting for one more byte. */
  private pendingCut = -1

  constructor(params: ChunkerParams) {
    const bits = log2Round(params.avgSize)
    const strict = maskForBits(bits + params.normalization)
    const loose = maskForBits(bits - params.normalization)

    this.skipEnd = 2 * Math.floor(params.minSize / 2)
    this.strictEnd = 2 * Math.floor(params.avgSize / 2)
    this.testEnd = 2 * Math.floor(params.maxSize / 2)
    this.maxSize = params.maxSize
    this.strictLo = strict.lo
    this.strictHi = strict.hi
    this.looseLo = loose.lo
    this.looseHi = loose.hi
  }

  /**
   * Consumes the next buffer and appends to `cuts` the absolute offsets at which chunks end.
   * Offsets only grow; a cut may fall before this buffer when the previous one ended on a match.
   */
  push(buf: Uint8Array, cuts: number[]): void {
    const base = this.offset
    const end = buf.length
    let i = 0

    if (end === 0) {
      return
    }

    this.offset += end
    this.scanner.load(buf)

    if (this.pendingCut >= 0) {
      cuts.push(this.pendingCut)
      this.length = base - this.pendingCut
      this.pendingCut = -1
      this.scanner.reset()
    }

    while (i < end) {
      if (this.length < this.skipEnd) {
        const step = Math.min(this.skipEnd - this.length, end - i)
        this.length += step
        i += step
        continue
      }

      if (this.length >= this.testEnd) {
        const step = Math.min(this.maxSize - this.length, end - i)
        this.length += step
        i += step

        if (this.length === this.maxSize) {
          this.cut(base + i, cuts)
        }

        continue
      }

      const strict = this.length < this.strictEnd
      const regionEnd = strict ? this.strictEnd : this.testEnd
      const stop = Math.min(end, i + regionEnd - this.length)
      const hit = strict
        ? this.scanner.scan(i, stop, this.strictLo, this.strictHi)
        : this.scanner.scan(i, stop, this.looseLo, this.looseHi)

      if (hit < 0) {
        this.length += stop - i
        i = stop
        continue
      }

      const position = this.length + hit - i

      if (hit === end - 1 && position % 2 === 0) {
        // Tested only if the byte after it exists: decide when the next buffer arrives.
        this.pendingCut = base + hit
        this.length = position + 1
        i = end
        continue
      }

      this.cut(base + hit, cuts)
      i = hit
    }
  }

  /** Ends the data; returns the length of the final chunk (0 when nothing is left). */
  finish(): number {
    const last = this.length
    this.reset()
    return last
  }

  private cut(at: number, cuts: number[]): void {
    cuts.push(at)
    this.length = 0
    this.scanner.reset()
  }

  private reset(): void {
    this.length = 0
    this.offset = 0
    this.pendingCut = -1
    this.scanner.reset()
  }
}
