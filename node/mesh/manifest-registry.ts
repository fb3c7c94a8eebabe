import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { ContentId } from '../../protocol/hash.ts'
import { type ParsedManifest, parseManifest } from '../../protocol/manifest.ts'
import { type ChunkOrder, chunkOrder } from '../../protocol/mesh/chunk-order.ts'

export interface KnownManifest extends ParsedManifest {
  order: ChunkOrder
  /** Master URL the manifest describes, when known. */
  master?: string
}

/** Manifests a node knows, kept on disk beside its chunk store so that restarts resume. */
export class ManifestRegistry {
  private readonly byId = new Map<ContentId, KnownManifest>()
  private readonly byMaster = new Map<string, ContentId>()

  constructor(private readonly dir: string) {}

  async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true })

    for (const name of await readdir(this.dir)) {
      if (!/^[0-9a-f]{64}\.json$/.test(name)) {
        continue
      }

      const record = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as {
        master?: string
        manifest: unknown
      }
      const parsed = parseManifest(JSON.stringify(record.manifest))
      this.remember(parsed, record.master)
    }
  }

  get(id: ContentId): KnownManifest | undefined {
    return this.byId.get(id)
  }

  forMaster(master: string): KnownManifest | undefined {
    const id = this.byMaster.get(master)
    return id === undefined ? undefined : this.byId.get(id)
  }

  all(): IterableIterator<KnownManifest> {
    return this.byId.values()
  }

  async add(parsed: ParsedManifest, master?: string): Promise<KnownManifest> {
    const known = this.remember(parsed, master)
    const path = join(this.dir, `${parsed.id}.json`)
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
    const record = `{"master":${JSON.stringify(known.master ?? null)},"manifest":${parsed.bytes}}`
    await writeFile(tmp, record)
    await rename(tmp, path)
    return known
  }

  private remember(parsed: ParsedManifest, master?: string | null): KnownManifest {
    const existing = this.byId.get(parsed.id)
    const known: KnownManifest = existing ?? { ...parsed, order: chunkOrder(parsed.manifest) }

    if (master) {
      known.master = master
      this.byMaster.set(master, parsed.id)
    }

    this.byId.set(parsed.id, known)
    return known
  }
}
