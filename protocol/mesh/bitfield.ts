import { InvalidInputError } from '../errors.ts'

/** One bit per chunk of a manifest, in the order of `chunkOrder` (first appearance). */
export class Bitfield {
  readonly bytes: Uint8Array
  private ones = 0

  constructor(
    readonly length: number,
    bytes?: Uint8Array,
  ) {
    const size = Math.ceil(length / 8)

    if (bytes !== undefined && bytes.length !== size) {
      throw new InvalidInputError(
        'BITFIELD_SIZE',
        `a bitfield of ${length} bits takes ${size} bytes, got ${bytes.length}`,
      )
    }

    this.bytes = bytes ?? new Uint8Array(size)
    this.ones = bytes === undefined ? 0 : countOnes(this.bytes, length)
  }

  static fromBase64(text: string, length: number): Bitfield {
    return new Bitfield(length, new Uint8Array(Buffer.from(text, 'base64')))
  }

  get count(): number {
    return this.ones
  }

  get complete(): boolean {
    return this.ones === this.length
  }

  has(index: number): boolean {
    return index >= 0 && index < this.length && (this.bytes[index >> 3] & (1 << (index & 7))) !== 0
  }

  set(index: number): void {
    if (index < 0 || index >= this.length || this.has(index)) {
      return
    }

    this.bytes[index >> 3] |= 1 << (index & 7)
    this.ones++
  }

  clear(index: number): void {
    if (!this.has(index)) {
      return
    }

    this.bytes[index >> 3] &= ~(1 << (index & 7))
    this.ones--
  }

  toBase64(): string {
    return Buffer.from(this.bytes).toString('base64')
  }
}

function countOnes(bytes: Uint8Array, length: number): number {
  let ones = 0

  for (let i = 0; i < length; i++) {
    if ((bytes[i >> 3] & (1 << (i & 7))) !== 0) {
      ones++
    }
  }

  return ones
}
