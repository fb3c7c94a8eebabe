import { writeFile, rename } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { ChunkStore } from '../../node/chunk-store/store.ts'
import { chunkerParams } from '../../protocol/chunker/params.ts'
import { HashWorker } from '../../protocol/chunker/whole-hash.ts'
import { MANIFEST_SUFFIX } from '../../protocol/constants.ts'
import { type IndexResult, indexLocalMaster } from '../../protocol/local-master.ts'
import { formatBytes, optionalSize } from '../args.ts'
import { UsageError } from '../exit-codes.ts'
import { ProgressBar } from '../progress.ts'

export const INDEX_USAGE = `usage: pressmesh index <file-or-folder> [--out manifest.json] [--store DIR]
                       [--min N --avg N --max N] [--json]

Chunks a master, prints a summary and writes its manifest (by default beside the master, as
<master>${MANIFEST_SUFFIX}). --store also puts the chunks into a chunk store; --json prints the
manifest to standard output instead of the summary.`

export async function indexCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      store: { type: 'string' },
      min: { type: 'string' },
      avg: { type: 'string' },
      max: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  })

  if (positionals.length !== 1) {
    throw new UsageError(INDEX_USAGE)
  }

  const master = positionals[0].replace(/\/+$/, '') || '/'
  const chunker = chunkerParams({
    minSize: optionalSize(values.min, '--min'),
    avgSize: optionalSize(values.avg, '--avg'),
    maxSize: optionalSize(values.max, '--max'),
  })
  const store = values.store ? await ChunkStore.open({ dir: values.store }) : undefined
  const hashWorker = new HashWorker()
  const progress = new ProgressBar('indexing')
  const started = performance.now()
  let result: IndexResult

  try {
    result = await indexLocalMaster(master, {
      chunker,
      hashWorker,
      onProgress: (done, total) => progress.update(done, total),
      onChunk: store ? (chunk) => store.put(chunk.id, chunk.pieces, { verified: true }) : undefined,
    })
  } finally {
    progress.done()
    await hashWorker.stop()
    await store?.close()
  }

  const seconds = (performance.now() - started) / 1000
  const out = values.out ?? (values.json ? undefined : `${master}${MANIFEST_SUFFIX}`)

  if (out !== undefined) {
    const tmp = `${out}.tmp-${process.pid}`
    await writeFile(tmp, result.bytes)
    await rename(tmp, out)
  }

  if (values.json) {
    process.stdout.write(result.bytes)
    process.stdout.write('\n')
    return 0
  }

  printSummary(result, seconds, out, values.store)
  return 0
}

function printSummary(result: IndexResult, seconds: number, out?: string, store?: string): void {
  const s = result.summary
  const rate = seconds > 0 ? s.bytes / seconds / 1e6 : 0
  const lines = [
    `manifest  ${result.id}`,
    `files     ${s.files} (${s.directories} folders, ${s.symlinks} links)`,
    `bytes     ${s.bytes} (${formatBytes(s.bytes)})`,
    `chunks    ${s.chunks}, ${s.uniqueChunks} unique (${formatBytes(s.uniqueBytes)})`,
    `speed     ${rate.toFixed(0)} MB/s in ${seconds.toFixed(2)} s`,
  ]

  if (out !== undefined) {
    lines.push(`written   ${out}`)
  }

  if (store !== undefined) {
    lines.push(`store     ${store}`)
  }

  process.stdout.write(`${lines.join('\n')}\n`)
}
