import type { KeyObject } from 'node:crypto'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { parseArgs } from 'node:util'
import { ChunkStore } from '../../node/chunk-store/store.ts'
import type { Medium, MediumInput } from '../../node/media/medium.ts'
import { readAheadSource } from '../../node/media/read-ahead.ts'
import { type PublishResult, publishMedium } from '../../node/media/publish.ts'
import { readPrivateKey } from '../../node/media/release-key.ts'
import { davTarget } from '../../node/media/upload/dav-target.ts'
import { folderTarget } from '../../node/media/upload/folder-target.ts'
import type { MediaTarget } from '../../node/media/upload/target.ts'
import { mediumWriter, PACK_FORMATS } from '../../node/media/writers.ts'
import { HashWorker } from '../../protocol/chunker/whole-hash.ts'
import { MANIFEST_SUFFIX } from '../../protocol/constants.ts'
import { indexLocalMaster, readLocalManifest } from '../../protocol/local-master.ts'
import type { Manifest } from '../../protocol/manifest.ts'
import { formatBytes } from '../args.ts'
import { UsageError } from '../exit-codes.ts'
import { ProgressBar } from '../progress.ts'

const FORMATS = PACK_FORMATS.join('|')

export const PACK_USAGE = `usage: pressmesh pack <folder-or-manifest> --format ${FORMATS}
         --out DIR|URL [--store DIR] [--name NAME] [--volume-id ID] [--date ISO8601|SECONDS]
         [--key release.key.pem] [--mbr] [--disc dvd5]

Writes one medium with SHA256SUMS, BLAKE3SUMS and SHA256SUMS.sig into DIR, or uploads them to a
WebDAV media server when --out is an http(s) URL. A folder is indexed into the chunk store first
(a temporary one without --store); a manifest needs --store holding its chunks. --name (default:
the folder's name) names the output file, --volume-id (default: the name in upper case) labels
the volume, --date (default: the newest mtime in the manifest) stands for every time the image
records beyond the manifest's. Without --key the medium is written unsigned. --mbr puts an img
behind a partition table; --disc picks the disc size of an iso set.`

interface Source {
  manifest: Manifest
  store: ChunkStore
  name: string
  cleanUp: () => Promise<void>
}

export async function packCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      out: { type: 'string' },
      store: { type: 'string' },
      name: { type: 'string' },
      'volume-id': { type: 'string' },
      date: { type: 'string' },
      key: { type: 'string' },
      mbr: { type: 'boolean', default: false },
      disc: { type: 'string' },
    },
  })

  if (positionals.length !== 1 || values.format === undefined || values.out === undefined) {
    throw new UsageError(PACK_USAGE)
  }

  checkOptions(values.format, values)
  const writer = mediumWriter(values.format)
  const key = values.key === undefined ? undefined : await readPrivateKey(values.key)
  const hashWorker = new HashWorker()
  let source: Source | undefined

  try {
    source = await openSource(positionals[0].replace(/\/+$/, '') || '/', values.store, hashWorker)
    const name = values.name ?? source.name
    const input: MediumInput = {
      manifest: source.manifest,
      source: readAheadSource(source.store),
      meta: {
        volumeId: values['volume-id'] ?? name.toUpperCase(),
        date: values.date === undefined ? newestTime(source.manifest) : parseDate(values.date),
      },
    }
    const medium = writer(input, { name, mbr: values.mbr, disc: values.disc })
    const result = await publishWithProgress(medium, targetFor(values.out), key, hashWorker)
    printSummary(result, values.out)
  } finally {
    await source?.cleanUp()
    await hashWorker.stop()
  }

  return 0
}

function checkOptions(format: string, values: { mbr?: boolean; disc?: string }): void {
  if (values.mbr && format !== 'img') {
    throw new UsageError('pressmesh pack: --mbr applies to --format img only')
  }

  if (values.disc !== undefined && format !== 'iso') {
    throw new UsageError('pressmesh pack: --disc applies to --format iso only')
  }
}

async function openSource(path: string, storeDir: string | undefined, hashWorker: HashWorker) {
  const info = await stat(path).catch(() => undefined)

  if (info === undefined) {
    throw new UsageError(`pressmesh pack: no such folder or manifest: ${path}`)
  }

  if (info.isDirectory()) {
    return indexFolder(path, storeDir, hashWorker)
  }

  if (storeDir === undefined) {
    throw new UsageError(
      'pressmesh pack: a manifest needs --store, the chunk store holding its chunks',
    )
  }

  const { manifest } = await readLocalManifest(path)
  const store = await ChunkStore.open({ dir: storeDir })
  const name = basename(path)
    .replace(MANIFEST_SUFFIX, '')
    .replace(/\.json$/, '')
  return { manifest, store, name, cleanUp: () => store.close() } satisfies Source
}

async function indexFolder(
  path: string,
  storeDir: string | undefined,
  hashWorker: HashWorker,
): Promise<Source> {
  const temporary =
    storeDir === undefined ? await mkdtemp(join(tmpdir(), 'pressmesh-pack-')) : undefined
  const store = await ChunkStore.open({ dir: storeDir ?? temporary! })
  const cleanUp = async () => {
    await store.close()
    if (temporary !== undefined) {
      await rm(temporary, { recursive: true, force: true })
    }
  }
  const progress = new ProgressBar('indexing')

  try {
    const result = await indexLocalMaster(path, {
      hashWorker,
      onProgress: (done, total) => progress.update(done, total),
      onChunk: (chunk) => store.put(chunk.id, chunk.pieces, { verified: true }),
    })
    return { manifest: result.manifest, store, name: basename(path), cleanUp }
  } catch (err) {
    await cleanUp()
    throw err
  } finally {
    progress.done()
  }
}

async function publishWithProgress(
  medium: Medium,
  target: MediaTarget,
  key: KeyObject | undefined,
  hashWorker: HashWorker,
): Promise<PublishResult> {
  const progress = new ProgressBar(`writing ${medium.kind}`)

  try {
    return await publishMedium(medium, target, {
      key,
      hashWorker,
      onProgress: (done, total) => progress.update(done, total),
    })
  } finally {
    progress.done()
  }
}

function targetFor(out: string): MediaTarget {
  return /^https?:\/\//.test(out) ? davTarget({ url: out }) : folderTarget({ dir: out })
}

function newestTime(manifest: Manifest): number {
  return manifest.files.reduce((newest, entry) => Math.max(newest, entry.mtime), 0)
}

function parseDate(text: string): number {
  const seconds = /^-?\d+$/.test(text) ? Number(text) : Date.parse(text) / 1000

  if (!Number.isFinite(seconds)) {
    throw new UsageError(`pressmesh pack: --date "${text}" is neither ISO 8601 nor seconds`)
  }

  return Math.floor(seconds)
}

function printSummary(result: PublishResult, out: string): void {
  const lines = result.files.map(
    (file) =>
      `written   ${file.name}  ${file.size} bytes (${formatBytes(file.size)})  ` +
      `sha256 ${file.sha256}`,
  )

  lines.push(`sums      SHA256SUMS, BLAKE3SUMS in ${out}`)
  lines.push(
    result.signedBy === undefined
      ? 'unsigned  no --key given: SHA256SUMS carries no signature ' +
          '(pressmesh keygen --release makes a key)'
      : `signed    SHA256SUMS.sig by key ${result.signedBy}`,
  )
  process.stdout.write(`${lines.join('\n')}\n`)
}
