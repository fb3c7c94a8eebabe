import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createPrivateKey } from 'node:crypto'
import { InvalidInputError } from '../../protocol/errors.ts'
import {
  generateReleaseKeys,
  keyFingerprint,
  PRIVATE_KEY_FILE,
  PUBLIC_KEY_FILE,
} from '../../node/media/release-key.ts'
import { UsageError } from '../exit-codes.ts'

export const KEYGEN_USAGE = `usage: pressmesh keygen --release --out DIR

Writes a new Ed25519 release key pair into DIR: ${PRIVATE_KEY_FILE} (PKCS#8 PEM, mode 0600)
signs media with pack --key; ${PUBLIC_KEY_FILE} (SPKI PEM) checks them with verify --key.
Existing key files are never overwritten.`

export async function keygenCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { release: { type: 'boolean', default: false }, out: { type: 'string' } },
  })

  if (!values.release || values.out === undefined) {
    throw new UsageError(KEYGEN_USAGE)
  }

  const pair = generateReleaseKeys()
  const privatePath = join(values.out, PRIVATE_KEY_FILE)
  const publicPath = join(values.out, PUBLIC_KEY_FILE)
  await writeNew(privatePath, pair.privatePem, 0o600)
  await writeNew(publicPath, pair.publicPem, 0o644)

  const fingerprint = keyFingerprint(createPrivateKey(pair.privatePem))
  process.stdout.write(
    `private   ${privatePath}\npublic    ${publicPath}\nkey       ${fingerprint}\n`,
  )
  return 0
}

async function writeNew(path: string, text: string, mode: number): Promise<void> {
  try {
    // 'wx' refuses to replace a key: losing a release key cannot be undone.
    await writeFile(path, text, { flag: 'wx', mode })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'EEXIST' ? 'it already exists' : `cannot write it (${code})`
    throw new InvalidInputError('KEY_EXISTS', `not writing ${path}: ${why}`, { cause: err })
  }
}
