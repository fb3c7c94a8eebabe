import { createHash } from 'node:crypto'
import type { HashWorker, WholeHasher } from '../../protocol/chunker/whole-hash.ts'
import { asBuffer, Blake3Hasher } from '../../protocol/hash.ts'
import { release, retain } from './buffer-pool.ts'

// SHA-256 and BLAKE3 of bytes as they go by, so that a medium is hashed in the same pass that
// writes or uploads it. Given a HashWorker, the hashing runs on two threads of its own, SHA-256
// on one and BLAKE3 on the other, reading the same shared memory, while this thread keeps
// producing and writing: pieces are copied into staging buffers of STAGE_BYTES (tar headers come
// 512 bytes at a time), backed by SharedArrayBuffers so that they reach the worker without a
// second copy, and reused once both threads have hashed them. Large pieces that already live in
// shared memory go to the worker as they are, without staging; when that memory is pooled
// (chunks read by the read-ahead source, see buffer-pool.ts) or marked unchanging, several go at
// once and the caller does not wait for them: the tap holds a reference to a pooled piece until
// both threads have hashed it (or it is staged), so its memory is not reused before.

export interface FileDigest {
  size: number
  sha256: string
  blake3: string
}

const STAGE_BYTES = 4 * 1024 * 1024
/** Staging buffers handed to the worker and not yet hashed, at most. */
const MAX_IN_FLIGHT = 4
/** Shared pieces at least this large skip staging; smaller ones are gathered as before. */
const DIRECT_BYTES = 64 * 1024
/** Pieces of unchanging or pooled memory handed to the worker and not yet hashed, at most. */
const MAX_UNCHANGING_IN_FLIGHT = 8

const unchanging = new WeakSet<SharedArrayBuffer>()

/**
 * Declares that `bytes`' shared memory is never written again, by anyone, so that a tap may
 * hash it later than it is handed over. The chunk store's shared reads are such memory.
 */
export function markUnchanging(bytes: Uint8Array): void {
  if (bytes.buffer instanceof SharedArrayBuffer) {
    unchanging.add(bytes.buffer)
  }
}

export class DigestTap {
  private readonly inline?: { sha256: ReturnType<typeof createHash>; blake3: Blake3Hasher }
  private readonly hasher?: WholeHasher
  private readonly inFlight: Promise<void>[] = []
  private readonly stages: Buffer[] = []
  private nextStage = 0
  private stage: Buffer = Buffer.alloc(0)
  private staged = 0
  private size = 0

  constructor(worker?: HashWorker) {
    if (worker === undefined) {
      this.inline = { sha256: createHash('sha256'), blake3: new Blake3Hasher() }
    } else {
      this.hasher = worker.open({ split: true })
    }
  }

  /** Takes the bytes in; the caller may reuse them once the returned promise (if any) settles. */
  update(bytes: Uint8Array): Promise<void> | undefined {
    this.size += bytes.length

    if (this.inline !== undefined) {
      this.inline.sha256.update(bytes)
      this.inline.blake3.update(asBuffer(bytes))
      return undefined
    }

    // A pooled piece stays ours until hashed or staged, whoever else is handed it.
    const pooled = retain(bytes)

    if (bytes.length >= DIRECT_BYTES && bytes.buffer instanceof SharedArrayBuffer) {
      if (pooled || unchanging.has(bytes.buffer)) {
        return this.sendUnchanging(bytes, pooled)
      }

      return this.sendDirect(bytes)
    }

    const staging = this.stageBytes(bytes)

    if (pooled) {
      staging.then(
        () => release(bytes),
        () => release(bytes),
      )
    }

    return staging
  }

  async digest(): Promise<FileDigest> {
    if (this.inline !== undefined) {
      const { sha256, blake3 } = this.inline
      return { size: this.size, sha256: sha256.digest('hex'), blake3: blake3.digest('hex') }
    }

    this.flush()
    await Promise.all(this.inFlight)
    const digest = await this.hasher!.digest()
    return { size: this.size, ...digest }
  }

  private async stageBytes(bytes: Uint8Array): Promise<void> {
    let offset = 0

    while (offset < bytes.length) {
      if (this.staged === this.stage.length) {
        this.flush()
        await this.throttle()
        this.stage = this.freeStage()
      }

      const count = Math.min(bytes.length - offset, this.stage.length - this.staged)
      this.stage.set(bytes.subarray(offset, offset + count), this.staged)
      this.staged += count
      offset += count
    }
  }

  /** Hashes the piece where it is; the returned promise settles once the worker is done. */
  private async sendDirect(bytes: Uint8Array): Promise<void> {
    this.flush()
    await this.throttle()
    const hashed = this.post(bytes)
    await hashed
  }

  /**
   * Hands the piece over, releasing it (when pooled) once hashed; waits only while too many are
   * still being hashed.
   */
  private sendUnchanging(bytes: Uint8Array, pooled: boolean): Promise<void> | undefined {
    this.flush()
    const hashed = this.post(bytes)

    if (pooled) {
      hashed.then(
        () => release(bytes),
        () => release(bytes),
      )
    }

    return this.inFlight.length > MAX_UNCHANGING_IN_FLIGHT
      ? this.throttle(MAX_UNCHANGING_IN_FLIGHT)
      : undefined
  }

  private post(bytes: Uint8Array): Promise<void> {
    const hashed = this.hasher!.update(bytes) ?? Promise.resolve()
    this.inFlight.push(hashed)
    return hashed
  }

  private flush(): void {
    if (this.staged > 0) {
      this.post(this.stage.subarray(0, this.staged))
    }

    this.stage = Buffer.alloc(0)
    this.staged = 0
  }

  /** With MAX_IN_FLIGHT + 1 buffers and hashing in order, the oldest is free once throttled. */
  private freeStage(): Buffer {
    const index = this.nextStage++ % (MAX_IN_FLIGHT + 1)
    this.stages[index] ??= Buffer.from(new SharedArrayBuffer(STAGE_BYTES))
    return this.stages[index]
  }

  private async throttle(limit = MAX_IN_FLIGHT): Promise<void> {
    while (this.inFlight.length >= limit) {
      await this.inFlight.shift()
    }
  }
}

/** Passes `bytes` through, feeding the tap and reporting each piece's length. */
export async function* tapped(
  bytes: AsyncIterable<Uint8Array>,
  tap: DigestTap,
  onBytes?: (count: number) => void,
): AsyncGenerator<Uint8Array> {
  for await (const piece of bytes) {
    const taking = tap.update(piece)
    // Awaited below; a consumer that stops early must not leave a failure unobserved.
    taking?.catch(() => undefined)
    onBytes?.(piece.length)
    // The piece goes on while it is hashed; the producer gets control back (and may reuse the
    // piece) only after the tap has taken it.
    yield piece

    if (taking !== undefined) {
      await taking
    }
  }
}
