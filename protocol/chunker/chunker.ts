import { blake3OfPieces, type ContentId } from '../hash.ts'
import { FastCdc } from './fastcdc.ts'
import type { ChunkerParams } from './params.ts'

export interface ChunkRef {
  id: ContentId
  size: number
}

/** A chunk as it leaves the chunker: its bytes are views into the buffers that were pushed. */
export interface ChunkData extends ChunkRef {
  /** Offset of the chunk's first byte in the stream. */
  offset: number
  pieces: Uint8Array[]
}

/**
 * Splits a stream into content-defined chunks and names each by its BLAKE3. It keeps views of
 * the pushed buffers only until the chunks that contain them are handed out, so callers must not
 * reuse a buffer after pushing it.
 */
export class Chunker {
  private readonly cdc: FastCdc
  private readonly cuts: number[] = []
  private held: Uint8Array[] = []
  private chunkStart = 0

  constructor(params: ChunkerParams) {
    this.cdc = new FastCdc(params)
  }

  push(buf: Uint8Array): ChunkData[] {
    if (buf.length === 0) {
      return []
    }

    this.held.push(buf)
    this.cuts.length = 0
    this.cdc.push(buf, this.cuts)

    return this.cuts.map((cut) => this.take(cut - this.chunkStart))
  }

  /** Stream offset of the first byte the chunker still holds (the current partial chunk). */
  heldFrom(): number {
    return this.chunkStart
  }

  /** The final chunk, if any bytes are left. */
  finish(): ChunkData | undefined {
    const last = this.cdc.finish()
    const chunk = last > 0 ? this.take(last) : undefined
    this.chunkStart = 0
    return chunk
  }

  private take(size: number): ChunkData {
    const pieces: Uint8Array[] = []
    let need = size

    while (need > 0) {
      const head = this.held[0]

      if (head.length <= need) {
        pieces.push(head)
        this.held.shift()
        need -= head.length
      } else {
        pieces.push(head.subarray(0, need))
        this.held[0] = head.subarray(need)
        need = 0
      }
    }

    const offset = this.chunkStart
    this.chunkStart += size

    return { id: blake3OfPieces(pieces), size, offset, pieces }
  }
}
