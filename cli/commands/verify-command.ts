import { parseArgs } from 'node:util'
import { readPublicKey } from '../../node/media/release-key.ts'
import { verifyMediumFolder } from '../../node/media/verify.ts'
import { formatBytes } from '../args.ts'
import { UsageError } from '../exit-codes.ts'

export const VERIFY_USAGE = `usage: pressmesh verify <folder> --key PUBLIC.pem

Checks a medium folder written by pack: the Ed25519 signature of SHA256SUMS by the release key,
then every listed file against SHA256SUMS and BLAKE3SUMS. Exit 0 when all is intact; 5 with a
one-line reason when a file, a sums file or the signature does not match.`

export async function verifyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { key: { type: 'string' } },
  })

  if (positionals.length !== 1 || values.key === undefined) {
    throw new UsageError(VERIFY_USAGE)
  }

  const key = await readPublicKey(values.key)
  const result = await verifyMediumFolder(positionals[0], key)

  process.stdout.write(
    `verified  ${result.files.length} files, ${formatBytes(result.bytes)}, signed by key ` +
      `${result.signedBy}\n`,
  )
  return 0
}
