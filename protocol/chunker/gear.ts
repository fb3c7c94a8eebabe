import { createHash } from 'node:crypto'

// The gear table of FastCDC's C reference (destor) and of the fastcdc crate: entry i is the
// first 8 bytes, big-endian, of MD5 over 64 bytes that all equal i. Deriving it here keeps the
// table honest and out of the source.
//
export const GEAR: readonly bigint[] = Array.from({ length: 256 }, (_, i) =>
  createHash('md5').update(Buffer.alloc(64, i)).digest().readBigUInt64BE(0),
)

// Masks by number of effective bits, as published with the C reference and extended by
// restic-FastCDC; entries 0..4 are padding. Each fits in 48 bits.
const MASKS: readonly number[] = [
  0, 0, 0, 0, 0, 0x0000000001804110, 0x0000000001803110, 0x0000000018035100, 0x0000001800035300,
  0x0000019000353000, 0x0000590003530000, 0x0000d90003530000, 0x0000d90103530000,
  0x0000d90303530000, 0x0000d90313530000, 0x0000d90f03530000, 0x0000d90303537000,
  0x0000d90703537000, 0x0000d90707537000, 0x0000d91707537000, 0x0000d91747537000,
  0x0000d91767537000, 0x0000d93767537000, 0x0000d93777537000, 0x0000d93777577000,
  0x0000db3777577000,
]

/** A 64-bit mask as two unsigned 32-bit halves, for WebAssembly's i32 parameters. */
export interface SplitMask {
  lo: number
  hi: number
}

const TWO_32 = 0x100000000

export function maskForBits(bits: number): SplitMask {
  const mask = MASKS[bits]

  if (mask === undefined) {
    throw new RangeError(`no FastCDC mask for ${bits} bits`)
  }

  return { lo: mask % TWO_32, hi: Math.floor(mask / TWO_32) }
}

/** Rounded base-2 logarithm, as the reference uses to pick the mask for an average size. */
export function log2Round(value: number): number {
  return Math.round(Math.log2(value))
}
