import { createHash } from 'node:crypto'
import { asBuffer, Blake3Hasher } from '../../protocol/hash.ts'

// SHA-256 and BLAKE3 of bytes as they go by, so that a medium is hashed in the same pass that
// writes or uploads it.

export interface FileDigest {
  size: number
  sha256: string
  blake3: string
}

export class DigestTap {
  private readonly sha256 = createHash('sha256')
  private readonly blake3 = new Blake3Hasher()
  private size = 0

  update(bytes: Uint8Array): void {
    this.sha256.update(bytes)
    this.blake3.update(asBuffer(bytes))
    this.size += bytes.length
  }

  digest(): FileDigest {
    return { size: this.size, sha256: this.sha256.digest('hex'), blake3: this.blake3.digest('hex') }
  }
}

/** Passes `bytes` through, feeding the tap and reporting each piece's length. */
export async function* tapped(
  bytes: AsyncIterable<Uint8Array>,
  tap: DigestTap,
  onBytes?: (count: number) => void,
): AsyncGenerator<Uint8Array> {
  for await (const piece of bytes) {
    tap.update(piece)
    onBytes?.(piece.length)
    yield piece
  }
}
