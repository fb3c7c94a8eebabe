import { createPrivateKey } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  generateReleaseKeys,
  keyFingerprint,
  PRIVATE_KEY_FILE,
  PUBLIC_KEY_FILE,
} from '../../node/media/release-key.ts'
import { InvalidInputError } from '../../protocol/errors.ts'
import { generatePsk, writePrivate } from '../../protocol/mesh/keys.ts'
import { UsageError } from '../exit-codes.ts'

export const KEYGEN_USAGE = `usage: pressmesh keygen --psk [--out FILE]
       pressmesh keygen --release --out DIR

--psk writes a new libp2p private-network key (swarm.key format) to FILE, readable only by its
owner, or prints it; every node of a closed mesh is started with the same key (--psk FILE).

--release writes a new Ed25519 release key pair into DIR: ${PRIVATE_KEY_FILE} (PKCS#8 PEM,
mode 0600) signs media with pack --key; ${PUBLIC_KEY_FILE} (SPKI PEM) checks them with
verify --key. Existing key files are never overwritten.`

export async function keygenCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      psk: { type: 'boolean', default: false },
      release: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  })

  if (values.psk && !values.release) {
    return writeNetworkKey(values.out)
  }

  if (values.release && !values.psk && values.out !== undefined) {
    return writeReleaseKeys(values.out)
  }

  throw new UsageError(KEYGEN_USAGE)
}

async function writeNetworkKey(out: string | undefined): Promise<number> {
  const key = generatePsk()

  if (out === undefined) {
    process.stdout.write(key)
  } else {
    await writePrivate(out, key)
    process.stderr.write(`network key written to ${out}\n`)
  }

  return 0
}

async function writeReleaseKeys(out: string): Promise<number> {
  const pair = generateReleaseKeys()
  const privatePath = join(out, PRIVATE_KEY_FILE)
  const publicPath = join(out, PUBLIC_KEY_FILE)
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
