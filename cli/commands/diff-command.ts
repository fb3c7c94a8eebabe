import { parseArgs } from 'node:util'
import { readLocalManifest } from '../../protocol/local-master.ts'
import { diffManifests, summarizeManifest } from '../../protocol/manifest.ts'
import { formatBytes } from '../args.ts'
import { UsageError } from '../exit-codes.ts'

export const DIFF_USAGE = `usage: pressmesh diff <old-manifest> <new-manifest> [--json]

Prints how many chunks and bytes the new version shares with the old one, and how many bytes a
node that holds the old version must fetch.`

export async function diffCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false } },
  })

  if (positionals.length !== 2) {
    throw new UsageError(DIFF_USAGE)
  }

  const older = await readLocalManifest(positionals[0])
  const newer = await readLocalManifest(positionals[1])
  const diff = diffManifests(older.manifest, newer.manifest)
  const total = summarizeManifest(newer.manifest)

  if (values.json) {
    process.stdout.write(`${JSON.stringify({ old: older.id, new: newer.id, ...diff })}\n`)
    return 0
  }

  const share = diff.newTotalBytes > 0 ? (100 * diff.sharedBytes) / diff.newTotalBytes : 100
  process.stdout.write(
    [
      `old       ${older.id}`,
      `new       ${newer.id} (${total.uniqueChunks} unique chunks, ` +
        `${formatBytes(total.uniqueBytes)})`,
      `shared    ${diff.sharedChunks} chunks, ${formatBytes(diff.sharedBytes)} ` +
        `(${share.toFixed(1)}%)`,
      `to fetch  ${diff.newChunks} chunks, ${diff.fetchBytes} bytes ` +
        `(${formatBytes(diff.fetchBytes)})`,
    ].join('\n') + '\n',
  )
  return 0
}
