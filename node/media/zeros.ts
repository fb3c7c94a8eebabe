// Runs of zero bytes for padding, cut from one shared buffer that nobody writes to.

const ZEROS = Buffer.alloc(1024 * 1024)

export function* zeros(count: number): Generator<Uint8Array> {
  let left = count

  while (left > 0) {
    const size = Math.min(left, ZEROS.length)
    yield ZEROS.subarray(0, size)
    left -= size
  }
}
