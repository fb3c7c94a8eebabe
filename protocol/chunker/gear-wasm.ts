// The gear-hash inner loop as a tiny WebAssembly function. JavaScript has no 64-bit integer
// arithmetic outside BigInt, and splitting the hash into small-integer halves costs about three
// times as many instructions per byte; WebAssembly's i64 does the reference's arithmetic as is.
//
// The module is assembled here from its instructions rather than shipped as an opaque binary,
// so that what runs can be read. Its memory holds the gear table at offset 0 (256 x i64, little
// endian) and the bytes to scan from DATA_OFFSET on.
//
//   (global $h (mut i64) (i64.const 0))
//   (func $scan (param $from i32) (param $to i32) (param $maskLo i32) (param $maskHi i32)
//               (result i32)
//     ;; h = (h << 1) + gear[mem[i]] for i in [from, to); returns the first i with
//     ;; (h & mask) == 0, or -1. The hash carries over between calls in $h.
//   (func $reset (global.set $h (i64.const 0)))

export const DATA_OFFSET = 4096

const PAGE_BYTES = 65536

function uleb(value: number): number[] {
  const out: number[] = []
  let rest = value

  do {
    let byte = rest & 0x7f
    rest >>>= 7

    if (rest !== 0) {
      byte |= 0x80
    }

    out.push(byte)
  } while (rest !== 0)

  return out
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body]
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()]
}

function name(text: string): number[] {
  const bytes = [...Buffer.from(text, 'utf8')]
  return [...uleb(bytes.length), ...bytes]
}

const I32 = 0x7f
const I64 = 0x7e

// biome-ignore format: one instruction sequence per line
const SCAN_BODY = [
  // locals: $h i64 (4), $mask i64 (5), $i i32 (6)
  0x02, 0x02, I64, 0x01, I32,
  // mask = u64(maskLo) | u64(maskHi) << 32
  0x20, 0x02, 0xad, 0x20, 0x03, 0xad, 0x42, 0x20, 0x86, 0x84, 0x21, 0x05,
  // h = $h; i = from
  0x23, 0x00, 0x21, 0x04, 0x20, 0x00, 0x21, 0x06,
  0x02, 0x40, // block
  0x03, 0x40, // loop
  // if i >= to: leave
  0x20, 0x06, 0x20, 0x01, 0x4f, 0x0d, 0x01,
  // h = (h << 1) + i64.load(mem[i] << 3)
  0x20, 0x04, 0x42, 0x01, 0x86, 0x20, 0x06, 0x2d, 0x00, 0x00, 0x41, 0x03, 0x74, 0x29, 0x03, 0x00,
  0x7c, 0x22, 0x04,
  // if (h & mask) == 0: $h = h; return i
  0x20, 0x05, 0x83, 0x50, 0x04, 0x40, 0x20, 0x04, 0x24, 0x00, 0x20, 0x06, 0x0f, 0x0b,
  // i += 1; continue
  0x20, 0x06, 0x41, 0x01, 0x6a, 0x21, 0x06, 0x0c, 0x00,
  0x0b, // end loop
  0x0b, // end block
  // $h = h; return -1
  0x20, 0x04, 0x24, 0x00, 0x41, 0x7f, 0x0b,
]

const RESET_BODY = [0x00, 0x42, 0x00, 0x24, 0x00, 0x0b]

function assemble(): Uint8Array<ArrayBuffer> {
  // biome-ignore format: one section per line
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector([
      [0x60, 0x04, I32, I32, I32, I32, 0x01, I32],
      [0x60, 0x00, 0x00],
    ])),
    ...section(3, vector([[0x00], [0x01]])),
    ...section(5, vector([[0x00, 0x01]])),
    ...section(6, vector([[I64, 0x01, 0x42, 0x00, 0x0b]])),
    ...section(7, vector([
      [...name('memory'), 0x02, 0x00],
      [...name('scan'), 0x00, 0x00],
      [...name('reset'), 0x00, 0x01],
    ])),
    ...section(10, vector([
      [...uleb(SCAN_BODY.length), ...SCAN_BODY],
      [...uleb(RESET_BODY.length), ...RESET_BODY],
    ])),
  ]

  return Uint8Array.from(bytes)
}

let compiled: WebAssembly.Module | undefined

interface GearExports {
  memory: WebAssembly.Memory
  scan: (from: number, to: number, maskLo: number, maskHi: number) => number
  reset: () => void
}

/** One gear scanner: its own memory and hash state, so chunkers never share either. */
export class GearScanner {
  private readonly exports: GearExports
  private view: Uint8Array

  constructor(gear: readonly bigint[]) {
    compiled ??= new WebAssembly.Module(assemble())
    this.exports = new WebAssembly.Instance(compiled).exports as unknown as GearExports
    this.view = new Uint8Array(this.exports.memory.buffer)

    const table = new DataView(this.exports.memory.buffer)
    for (const [i, value] of gear.entries()) {
      table.setBigUint64(i * 8, value, true)
    }
  }

  /** Copies `bytes` into the scanner's memory; scan offsets are then relative to them. */
  load(bytes: Uint8Array): void {
    const needed = DATA_OFFSET + bytes.length

    if (needed > this.view.length) {
      const pages = Math.ceil((needed - this.view.length) / PAGE_BYTES)
      this.exports.memory.grow(pages)
      this.view = new Uint8Array(this.exports.memory.buffer)
    }

    this.view.set(bytes, DATA_OFFSET)
  }

  /** Index (relative to the loaded bytes) of the first match in [from, to), or -1. */
  scan(from: number, to: number, maskLo: number, maskHi: number): number {
    const hit = this.exports.scan(DATA_OFFSET + from, DATA_OFFSET + to, maskLo, maskHi)
    return hit < 0 ? -1 : hit - DATA_OFFSET
  }

  reset(): void {
    this.exports.reset()
  }
}
