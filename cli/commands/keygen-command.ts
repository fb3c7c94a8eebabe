import { parseArgs } from 'node:util'
import { generatePsk, writePrivate } from '../../protocol/mesh/keys.ts'
import { UsageError } from '../exit-codes.ts'

export const KEYGEN_USAGE = `usage: pressmesh keygen --psk [--out FILE]

Writes a new libp2p private-network key (swarm.key format) to FILE, readable only by its owner,
or prints it. Every node of a closed mesh is started with the same key (--psk FILE).`

export async function keygenCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { psk: { type: 'boolean', default: false }, out: { type: 'string' } },
  })

  if (!values.psk) {
    throw new UsageError(KEYGEN_USAGE)
  }

  const key = generatePsk()

  if (values.out === undefined) {
    process.stdout.write(key)
  } else {
    await writePrivate(values.out, key)
    process.stderr.write(`network key written to ${values.out}\n`)
  }

  return 0
}
