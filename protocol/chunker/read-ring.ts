import type { FileHandle } from 'node:fs/promises'

// Reading a large master into fresh buffers costs more than it seems: every buffer is new memory
// for the kernel to fault in and, once garbage, to unmap, which on a virtual machine with other
// threads running means a TLB shootdown per buffer. A ring of one SharedArrayBuffer avoids both:
// files are read into it in order, consumers say up to which stream offset they are done
// (`release`), and reading waits when the ring is full. Being shared, the ring is visible to a
// hashing worker without copies.

export class ReadRing {
  private readonly bytes: Uint8Array
  private written = 0
  private released = 0
  private wake: (() => void) | undefined

  constructor(readonly capacity: number) {
    this.bytes = new Uint8Array(new SharedArrayBuffer(capacity))
  }

  /** Bytes below this stream offset may be overwritten. Offsets only grow. */
  release(offset: number): void {
    if (offset <= this.released) {
      return
    }

    this.released = Math.min(offset, this.written)
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  /**
   * Reads a whole file into the ring as views in stream order; reads one byte past the expected
   * size so that a file that grew is noticed. Stream offsets start at 0 for each file.
   */
  async *readFile(handle: FileHandle, expectedSize: number, readSize: number) {
    this.written = 0
    this.released = 0
    let position = 0

    while (true) {
      const want = Math.max(1, Math.min(readSize, expectedSize - position + 1))
      const view = await this.space(want)
      const { bytesRead } = await handle.read(view, 0, view.length, position)

      if (bytesRead === 0) {
        return
      }

      position += bytesRead
      this.written += bytesRead
      yield view.subarray(0, bytesRead)
    }
  }

  /** Waits for room for up to `want` bytes that do not wrap around the end of the ring. */
  private async space(want: number): Promise<Uint8Array> {
    while (true) {
      const start = this.written % this.capacity
      const free = this.capacity - (this.written - this.released)
      const length = Math.min(want, free, this.capacity - start)

      if (length >= Math.min(want, this.capacity - start)) {
        return this.bytes.subarray(start, start + length)
      }

      await new Promise<void>((resolve) => {
        this.wake = resolve
      })
    }
  }
}

/** A ring big enough that chunking, hashing and storing never wait on each other for room. */
export function ringCapacity(maxChunkBytes: number, readBytes: number, pendingChunks: number) {
  return Math.max(64 * 1024 * 1024, maxChunkBytes * (pendingChunks + 2) + readBytes * 8)
}
