import { constants } from 'node:fs'
import { type FileHandle, open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { errorMessage, PressmeshError } from '../../protocol/errors.ts'
import type { Logger } from '../../protocol/logger.ts'
import { DIRECT_ALIGNMENT_BYTES, DIRECT_SLOT_BYTES, DIRECT_SLOTS } from './constants.ts'

// Chunk files written past the page cache (O_DIRECT). A node writes every chunk it fetches once
// and reads most of them back rarely, if at all, so copying them into the page cache first
// costs CPU for memory nobody asked for: on the machines measured here, buffered writes of a
// GiB of fresh chunks took 0.2–2.7 s of kernel time (the page cache's fresh pages are the dear
// part), direct writes about 0.1 s.
//
// Direct I/O wants the memory address, the file offset and the length aligned to the device's
// logical block. Node.js cannot align a Buffer, but a WebAssembly memory starts on a page
// boundary, so the writer copies each chunk into slots of one such memory and writes the
// aligned body from there; the last partial block goes through the page cache on a second
// handle. Whether all this works on the store's file system is tried once, at start; where it
// does not (EINVAL from open or write), the store writes through the page cache as before.

const WASM_PAGE_BYTES = 64 * 1024

/** Opens a file; a parameter so that tests can stand in for a file system without O_DIRECT. */
export type OpenFile = (path: string, flags: string | number, mode?: number) => Promise<FileHandle>

/**
 * Page-aligned slots of one WebAssembly memory, shared by every store of the process (a wasm
 * memory reserves address space far beyond its size, so there is one). A write takes a slot and
 * gives it back; writes beyond the slots wait in turn.
 */
class AlignedSlots {
  private static shared: AlignedSlots | undefined
  private readonly free: Buffer[] = []
  private readonly waiting: Array<(slot: Buffer) => void> = []

  private constructor() {
    const pages = (DIRECT_SLOT_BYTES * DIRECT_SLOTS) / WASM_PAGE_BYTES
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages })

    for (let i = 0; i < DIRECT_SLOTS; i++) {
      this.free.push(Buffer.from(memory.buffer, i * DIRECT_SLOT_BYTES, DIRECT_SLOT_BYTES))
    }
  }

  static get(): AlignedSlots {
    AlignedSlots.shared ??= new AlignedSlots()
    return AlignedSlots.shared
  }

  take(): Promise<Buffer> {
    const slot = this.free.pop()
    return slot ? Promise.resolve(slot) : new Promise((resolve) => this.waiting.push(resolve))
  }

  give(slot: Buffer): void {
    const next = this.waiting.shift()

    if (next) {
      next(slot)
    } else {
      this.free.push(slot)
    }
  }
}

export class DirectWriter {
  private constructor(
    private readonly slots: AlignedSlots,
    private readonly openFile: OpenFile,
  ) {}

  /**
   * A writer if direct writes work in `dir` (checked by writing one block to a scratch file),
   * otherwise undefined, with the reason logged.
   */
  static async probe(dir: string, log: Logger, openFile: OpenFile = open) {
    const path = join(dir, `direct-probe-${process.pid}`)

    try {
      const writer = new DirectWriter(AlignedSlots.get(), openFile)
      await writer.write(path, [Buffer.alloc(DIRECT_ALIGNMENT_BYTES + 1, 0x5a)], false)
      return writer
    } catch (err) {
      log.info({ dir, err: errorMessage(err) }, 'direct writes unavailable, using the page cache')
      return undefined
    } finally {
      await rm(path, { force: true })
    }
  }

  /** Writes `pieces` as a new file at `path` (which must not exist). */
  async write(path: string, pieces: readonly Uint8Array[], fsync: boolean): Promise<void> {
    const size = pieces.reduce((sum, piece) => sum + piece.length, 0)
    const body = size - (size % DIRECT_ALIGNMENT_BYTES)

    if (body > 0) {
      await this.writeBody(path, pieces, body)
    }

    const tail = sliceFrom(pieces, body)
    if (body > 0 && tail.length === 0 && !fsync) {
      return
    }

    const handle = await this.openFile(path, body > 0 ? 'r+' : 'wx')

    try {
      if (tail.length > 0) {
        const { bytesWritten } = await handle.writev(tail, body)
        checkWritten(path, bytesWritten, size - body)
      }

      if (fsync) {
        await handle.sync()
      }
    } finally {
      await handle.close()
    }
  }

  /** The aligned part, a slot at a time: copied into aligned memory, written past the cache. */
  private async writeBody(path: string, pieces: readonly Uint8Array[], body: number) {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT
    const slot = await this.slots.take()

    try {
      const handle = await this.openFile(path, flags, 0o644)

      try {
        for (let offset = 0; offset < body; offset += slot.length) {
          const length = Math.min(slot.length, body - offset)
          copyRange(pieces, offset, length, slot)
          const { bytesWritten } = await handle.write(slot, 0, length, offset)
          checkWritten(path, bytesWritten, length)
        }
      } finally {
        await handle.close()
      }
    } finally {
      this.slots.give(slot)
    }
  }
}

/** A short write to a regular file means the disk is failing or full: never a short chunk. */
function checkWritten(path: string, written: number, expected: number): void {
  if (written !== expected) {
    throw new PressmeshError(
      'STORE_WRITE_SHORT',
      `wrote ${written} of ${expected} bytes to ${path}; is the disk full?`,
    )
  }
}

/** Copies `length` bytes starting at `start` of the concatenated pieces into `into`. */
function copyRange(pieces: readonly Uint8Array[], start: number, length: number, into: Buffer) {
  let position = 0
  let copied = 0

  for (const piece of pieces) {
    const end = position + piece.length

    if (end > start && copied < length) {
      const from = Math.max(0, start - position)
      const take = Math.min(piece.length - from, length - copied)
      into.set(piece.subarray(from, from + take), copied)
      copied += take
    }

    position = end
  }
}

/** The pieces' bytes from `start` to the end, as views. */
function sliceFrom(pieces: readonly Uint8Array[], start: number): Uint8Array[] {
  const out: Uint8Array[] = []
  let position = 0

  for (const piece of pieces) {
    const end = position + piece.length

    if (end > start) {
      out.push(piece.subarray(Math.max(0, start - position)))
    }

    position = end
  }

  return out
}
