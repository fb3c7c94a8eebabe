import { randomBytes } from 'node:crypto'
import { type FileHandle, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { AbstractSublevel } from 'abstract-level'
import { Level } from 'level'
import { IntegrityError, NotFoundError, PressmeshError } from '../../protocol/errors.ts'
import { assertContentId, blake3OfPieces, type ContentId } from '../../protocol/hash.ts'
import { type Logger, logger } from '../../protocol/logger.ts'
import { DirectWriter, type OpenFile } from './direct-writer.ts'
import {
  DEFAULT_CAPACITY_BYTES,
  MAX_CHUNK_BYTES,
  RECENT_BYTES,
  TOUCH_FLUSH_MS,
} from './constants.ts'

// Chunks live as files under <dir>/chunks/<id[0:2]>/<id>. A chunk is written to a temporary
// file, its bytes checked against its id, and only then renamed into place, so a reader never
// sees a partial chunk. A LevelDB index beside them records each chunk's size and last use, and
// which holders (running tasks) pin it; eviction takes the least recently used unpinned chunks
// when a write would pass the capacity.
//
// Bytes on disk are trusted only once checked: a chunk written by this process was checked on
// the way in; any other (found at start-up) is checked the first time it is read.
//
// A read reorders the LRU in memory at once, but its index update is deferred: touched records
// are written in one LevelDB batch every TOUCH_FLUSH_MS and on close, so reading a medium's
// thousand chunks costs a few index writes rather than one per chunk. A crash loses at most
// that interval's recency (the chunks themselves stay known); a clean close loses nothing.
//
// The chunks written last are also kept in memory, up to RECENT_BYTES: a node announces a chunk
// as soon as it has it, and its peers ask for it moments later, so serving those from memory
// spares a file read and a fresh buffer for each of them.

export interface ChunkStoreInit {
  dir: string
  capacityBytes?: number
  /** fsync each chunk before it is renamed into place (slower; survives power loss). */
  fsync?: boolean
  now?: () => number
  log?: Logger
  /** Bytes of the latest written chunks kept in memory to serve reads (0 turns it off). */
  recentBytes?: number
  /**
   * Write chunk files past the page cache (O_DIRECT) where the file system allows it: cheaper
   * for chunks that arrive from the network and are seldom read back at once. Off by default,
   * for stores filled just before they are read (`index --store`, `pack`).
   */
  directWrites?: boolean
  /** Stands in for `open` when the store tries direct writes (for tests). */
  openFile?: OpenFile
}

export interface GetOptions {
  /**
   * Gives the memory to read a chunk of `size` bytes into (e.g. shared memory that a hashing
   * worker can take without a copy); by default a fresh buffer.
   */
  allocate?: (size: number) => Buffer
}

export interface PutOptions {
  /** The caller computed the id from these very bytes in this process (e.g. the chunker). */
  verified?: boolean
  /**
   * The pieces are the caller's to give away and will never change, so the store may keep them
   * in memory to serve reads of the chunk (not for views of a buffer that is reused).
   */
  keep?: boolean
}

export interface StoreStats {
  chunks: number
  bytes: number
  capacityBytes: number
  pinnedChunks: number
  /** Chunk files are written past the page cache. */
  directWrites: boolean
  /** Reads answered from the latest written chunks kept in memory, since the store opened. */
  readsFromMemory: number
  /** Reads that went to a chunk file, since the store opened. */
  readsFromDisk: number
}

interface ChunkRecord {
  size: number
  lastUse: number
}

type Sublevel = AbstractSublevel<
  Level<string, string>,
  string | Buffer | Uint8Array,
  string,
  string
>

export type StoreChange = { type: 'added' | 'removed'; id: ContentId; size: number }

export class ChunkStore {
  private readonly db: Level<string, string>
  private readonly records: Sublevel
  private readonly pinsDb: Sublevel
  private readonly chunksDir: string
  private readonly tmpDir: string
  private readonly capacityBytes: number
  private readonly fsync: boolean
  private readonly now: () => number
  private readonly log: Logger

  /** Insertion order is recency order: a touched chunk is moved to the end. */
  private lru = new Map<ContentId, ChunkRecord>()
  private readonly pins = new Map<ContentId, Set<string>>()
  private readonly verified = new Set<ContentId>()
  private readonly writing = new Map<ContentId, Promise<boolean>>()
  private readonly listeners = new Set<(change: StoreChange) => void>()
  /** Touched since the last flush: their lastUse is not in the index yet. */
  private readonly touched = new Set<ContentId>()
  private flushTimer: NodeJS.Timeout | undefined
  private flushing: Promise<void> = Promise.resolve()
  private totalBytes = 0
  private reservedBytes = 0
  /** The latest written chunks' bytes, oldest first; never changed once put here. */
  private readonly recent = new Map<ContentId, { pieces: readonly Uint8Array[]; size: number }>()
  private readonly recentLimit: number
  private recentSize = 0
  private readonly wantDirect: boolean
  private readonly openFile: OpenFile | undefined
  private direct: DirectWriter | undefined
  private readsFromMemory = 0
  private readsFromDisk = 0

  private constructor(init: ChunkStoreInit) {
    this.chunksDir = join(init.dir, 'chunks')
    this.tmpDir = join(init.dir, 'chunks', 'tmp')
    this.capacityBytes = init.capacityBytes ?? DEFAULT_CAPACITY_BYTES
    this.fsync = init.fsync ?? false
    this.recentLimit = init.recentBytes ?? RECENT_BYTES
    this.wantDirect = init.directWrites ?? false
    this.openFile = init.openFile
    this.now = init.now ?? Date.now
    this.log = init.log ?? logger('node:chunk-store')
    this.db = new Level(join(init.dir, 'index'))
    this.records = this.db.sublevel<string, string>('chunks', { valueEncoding: 'utf8' })
    this.pinsDb = this.db.sublevel<string, string>('pins', { valueEncoding: 'utf8' })
  }

  static async open(init: ChunkStoreInit): Promise<ChunkStore> {
    const store = new ChunkStore(init)
    await store.load()
    return store
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.writing.values())
    await this.flushTouches()
    await this.db.close()
  }

  has(id: ContentId): boolean {
    return this.lru.has(id)
  }

  sizeOf(id: ContentId): number | undefined {
    return this.lru.get(id)?.size
  }

  ids(): IterableIterator<ContentId> {
    return this.lru.keys()
  }

  stats(): StoreStats {
    return {
      chunks: this.lru.size,
      bytes: this.totalBytes,
      capacityBytes: this.capacityBytes,
      pinnedChunks: this.pins.size,
      directWrites: this.direct !== undefined,
      readsFromMemory: this.readsFromMemory,
      readsFromDisk: this.readsFromDisk,
    }
  }

  onChange(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Stores a chunk; resolves true if it was new. Concurrent puts of one id write it once. */
  put(id: ContentId, bytes: Uint8Array | readonly Uint8Array[], options: PutOptions = {}) {
    assertContentId(id, 'chunk id')

    if (this.lru.has(id)) {
      this.touch(id)
      return Promise.resolve(false)
    }

    const running = this.writing.get(id)
    if (running !== undefined) {
      return running.then(() => false)
    }

    const pieces = bytes instanceof Uint8Array ? [bytes] : bytes
    const write = this.write(id, pieces, options).finally(() => this.writing.delete(id))
    this.writing.set(id, write)
    return write
  }

  /**
   * The chunk's bytes as one or more pieces, without a copy when the chunk is among the latest
   * written; the pieces must not be changed.
   */
  async read(id: ContentId): Promise<readonly Uint8Array[]> {
    const recent = this.recent.get(id)

    if (recent !== undefined) {
      this.touch(id)
      this.readsFromMemory += 1
      return recent.pieces
    }

    return [await this.get(id)]
  }

  /** The chunk's bytes, checked against its id unless this process already checked them. */
  async get(id: ContentId, options: GetOptions = {}): Promise<Buffer> {
    const record = this.lru.get(id)

    if (record === undefined) {
      throw new NotFoundError('STORE_CHUNK_MISSING', `chunk ${id} is not in the store`)
    }

    const recent = this.recent.get(id)
    if (recent !== undefined) {
      this.touch(id)
      this.readsFromMemory += 1
      const into = options.allocate?.(record.size) ?? Buffer.allocUnsafe(record.size)
      return copyPieces(recent.pieces, into)
    }

    const checked = this.verified.has(id)
    this.readsFromDisk += 1
    let bytes: Buffer | undefined
    try {
      bytes = await this.readChunk(id, record.size, options, checked)
    } catch (err) {
      await this.forget(id)
      throw new NotFoundError('STORE_CHUNK_MISSING', `chunk ${id} vanished from disk`, {
        cause: err,
      })
    }

    if (bytes === undefined || (!checked && blake3OfPieces([bytes]) !== id)) {
      this.log.warn({ chunk: id }, 'chunk on disk does not match its id, removing it')
      await this.delete(id)
      throw new IntegrityError('STORE_CHUNK_CORRUPT', `chunk ${id} was corrupt on disk`)
    }

    this.verified.add(id)
    this.touch(id)
    return bytes
  }

  /** Pins chunks for a holder (a task) so that eviction leaves them alone. */
  async pin(holder: string, ids: Iterable<ContentId>): Promise<void> {
    const batch = this.pinsDb.batch()

    for (const id of ids) {
      let holders = this.pins.get(id)
      if (holders === undefined) {
        holders = new Set()
        this.pins.set(id, holders)
      }

      holders.add(holder)
      batch.put(pinKey(holder, id), '')
    }

    await batch.write()
  }

  async unpin(holder: string): Promise<void> {
    const batch = this.pinsDb.batch()

    for await (const key of this.pinsDb.keys({ gte: `${holder}\u0000`, lt: `${holder}\u0001` })) {
      const id = key.slice(holder.length + 1)
      const holders = this.pins.get(id)
      holders?.delete(holder)

      if (holders?.size === 0) {
        this.pins.delete(id)
      }

      batch.del(key)
    }

    await batch.write()
  }

  async delete(id: ContentId): Promise<void> {
    await rm(this.pathOf(id), { force: true })
    await this.forget(id)
  }

  private async write(id: ContentId, pieces: readonly Uint8Array[], options: PutOptions) {
    const size = pieces.reduce((sum, piece) => sum + piece.length, 0)

    if (size === 0 || size > MAX_CHUNK_BYTES) {
      throw new IntegrityError('STORE_CHUNK_SIZE', `chunk ${id} is ${size} bytes`)
    }

    if (!options.verified && blake3OfPieces(pieces) !== id) {
      throw new IntegrityError('STORE_CHUNK_MISMATCH', `bytes offered as chunk ${id} do not match`)
    }

    await this.reserve(id, size)

    try {
      await this.writeFile(id, pieces)
      const record = { size, lastUse: this.now() }
      await this.records.put(id, JSON.stringify(record))
      this.lru.set(id, record)
      this.totalBytes += size
      this.verified.add(id)
      if (options.keep) {
        this.remember(id, pieces, size)
      }
    } finally {
      this.reservedBytes -= size
    }

    this.emit({ type: 'added', id, size })
    return true
  }

  private async writeFile(id: ContentId, pieces: readonly Uint8Array[]): Promise<void> {
    const tmp = join(this.tmpDir, `${id}.${randomBytes(6).toString('hex')}`)

    try {
      await (this.direct
        ? this.direct.write(tmp, pieces, this.fsync)
        : writeBuffered(tmp, pieces, this.fsync))
    } catch (err) {
      await rm(tmp, { force: true })
      throw err
    }

    await rename(tmp, this.pathOf(id))
  }

  /** Makes room for `size` more bytes, evicting unpinned chunks oldest first. */
  private async reserve(id: ContentId, size: number): Promise<void> {
    this.reservedBytes += size

    if (this.totalBytes + this.reservedBytes <= this.capacityBytes) {
      return
    }

    for (const [candidate, record] of this.lru) {
      if (this.totalBytes + this.reservedBytes <= this.capacityBytes) {
        return
      }

      if (!this.pins.has(candidate) && !this.writing.has(candidate)) {
        this.log.debug({ chunk: candidate, size: record.size }, 'evicting chunk')
        await this.delete(candidate)
      }
    }

    if (this.totalBytes + this.reservedBytes > this.capacityBytes) {
      this.reservedBytes -= size
      throw new PressmeshError(
        'STORE_FULL',
        `no room for chunk ${id} (${size} bytes): the store holds ${this.totalBytes} of ` +
          `${this.capacityBytes} bytes and the rest is pinned by running tasks`,
      )
    }
  }

  /**
   * Reads a chunk file with one open and one read of its recorded size into a buffer of exactly
   * that size. Undefined when the file's size is not the recorded one: checked by a stat for a
   * chunk not checked yet, and by a short read for any.
   */
  private async readChunk(
    id: ContentId,
    size: number,
    options: GetOptions,
    checked: boolean,
  ): Promise<Buffer | undefined> {
    const handle: FileHandle = await open(this.pathOf(id), 'r')

    try {
      if (!checked && (await handle.stat()).size !== size) {
        return undefined
      }

      const bytes = options.allocate?.(size) ?? Buffer.allocUnsafeSlow(size)
      const { bytesRead } = await handle.read(bytes, 0, size, 0)

      return bytesRead === size || checked ? bytes.subarray(0, bytesRead) : undefined
    } finally {
      await handle.close()
    }
  }

  private remember(id: ContentId, pieces: readonly Uint8Array[], size: number): void {
    if (size > this.recentLimit) {
      return
    }

    this.recent.set(id, { pieces, size })
    this.recentSize += size

    for (const [oldest, entry] of this.recent) {
      if (this.recentSize <= this.recentLimit) {
        break
      }

      this.recent.delete(oldest)
      this.recentSize -= entry.size
    }
  }

  private drop(id: ContentId): void {
    const entry = this.recent.get(id)

    if (entry !== undefined) {
      this.recent.delete(id)
      this.recentSize -= entry.size
    }
  }

  /** Moves a chunk to the recent end now; its index record follows in the next flush. */
  private touch(id: ContentId): void {
    const record = this.lru.get(id)

    if (record === undefined) {
      return
    }

    this.lru.delete(id)
    record.lastUse = this.now()
    this.lru.set(id, record)
    this.touched.add(id)
    this.flushTimer ??= setTimeout(() => {
      this.flushTouches().catch((err) => {
        this.log.error({ err }, 'writing chunk use times to the index failed')
      })
    }, TOUCH_FLUSH_MS).unref()
  }

  /** Writes every pending touch in one batch, after any flush already under way. */
  private flushTouches(): Promise<void> {
    clearTimeout(this.flushTimer)
    this.flushTimer = undefined

    if (this.touched.size === 0) {
      return this.flushing
    }

    const batch = this.records.batch()
    for (const id of this.touched) {
      const record = this.lru.get(id)

      if (record !== undefined) {
        batch.put(id, JSON.stringify(record))
      }
    }

    this.touched.clear()
    const previous = this.flushing
    this.flushing = previous.then(
      () => batch.write(),
      () => batch.write(),
    )
    return this.flushing
  }

  private async forget(id: ContentId): Promise<void> {
    const record = this.lru.get(id)

    if (record === undefined) {
      return
    }

    this.lru.delete(id)
    this.drop(id)
    this.verified.delete(id)
    this.touched.delete(id)
    this.totalBytes -= record.size
    // A batch already under way may hold this record; delete it only after that batch.
    await this.flushing.catch(() => undefined)
    await this.records.del(id)
    this.emit({ type: 'removed', id, size: record.size })
  }

  private emit(change: StoreChange): void {
    for (const listener of this.listeners) {
      listener(change)
    }
  }

  private pathOf(id: ContentId): string {
    return join(this.chunksDir, id.slice(0, 2), id)
  }

  private async load(): Promise<void> {
    await rm(this.tmpDir, { recursive: true, force: true })
    await mkdir(this.tmpDir, { recursive: true })
    await Promise.all(
      Array.from({ length: 256 }, (_, i) =>
        mkdir(join(this.chunksDir, i.toString(16).padStart(2, '0')), { recursive: true }),
      ),
    )
    await this.db.open()
    this.direct = this.wantDirect
      ? await DirectWriter.probe(this.tmpDir, this.log, this.openFile)
      : undefined

    const loaded: Array<[ContentId, ChunkRecord]> = []
    for await (const [id, value] of this.records.iterator()) {
      loaded.push([id, JSON.parse(value) as ChunkRecord])
    }

    loaded.sort(([, a], [, b]) => a.lastUse - b.lastUse)
    for (const [id, record] of loaded) {
      this.lru.set(id, record)
      this.totalBytes += record.size
    }

    for await (const key of this.pinsDb.keys()) {
      const [holder, id] = key.split('\u0000')
      const holders = this.pins.get(id) ?? new Set<string>()
      holders.add(holder)
      this.pins.set(id, holders)
    }

    await this.adoptOrphans()
    this.log.debug({ chunks: this.lru.size, bytes: this.totalBytes }, 'chunk store opened')
  }

  /** A crash between rename and index write leaves a chunk file the index does not know. */
  private async adoptOrphans(): Promise<void> {
    for (const prefix of await readdir(this.chunksDir)) {
      if (prefix === 'tmp') {
        continue
      }

      for (const name of await readdir(join(this.chunksDir, prefix))) {
        if (this.lru.has(name) || !/^[0-9a-f]{64}$/.test(name)) {
          continue
        }

        const info = await stat(join(this.chunksDir, prefix, name))
        const record = { size: info.size, lastUse: 0 }
        await this.records.put(name, JSON.stringify(record))
        this.lru = new Map([[name, record], ...this.lru])
        this.totalBytes += info.size
      }
    }
  }
}

async function writeBuffered(path: string, pieces: readonly Uint8Array[], fsync: boolean) {
  const handle = await open(path, 'wx')

  try {
    await handle.writev(pieces as Uint8Array[])

    if (fsync) {
      await handle.sync()
    }
  } finally {
    await handle.close()
  }
}

function copyPieces(pieces: readonly Uint8Array[], into: Buffer): Buffer {
  let offset = 0
  for (const piece of pieces) {
    into.set(piece, offset)
    offset += piece.length
  }
  return into
}

function pinKey(holder: string, id: ContentId): string {
  return `${holder}\u0000${id}`
}
