import { createCipheriv } from 'node:crypto'

/** Deterministic pseudo-random bytes (AES-128-CTR over zeros), fast enough for 100s of MiB. */
export function pseudoRandomBytes(size: number, seed = 1): Buffer {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16))
  return cipher.update(Buffer.alloc(size))
}

/** Splits a buffer into pieces of the given sizes, cycling through them. */
export function* splitInto(bytes: Uint8Array, sizes: readonly number[]): Generator<Uint8Array> {
  let offset = 0
  let i = 0

  while (offset < bytes.length) {
    const size = sizes[i++ % sizes.length]
    yield bytes.subarray(offset, offset + size)
    offset += size
  }
}

export async function* asAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items
}
