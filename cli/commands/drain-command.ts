import { parseArgs } from 'node:util'
import { connect } from '../client/connect.ts'
import { CLIENT_OPTIONS, CLIENT_OPTIONS_USAGE } from '../client/settings.ts'
import { UsageError } from '../exit-codes.ts'

export const DRAIN_USAGE = `usage: pressmesh drain <peer-id> [--undo] [--json]

Drains a node: the coordinator gives it no new tasks and lets the running ones finish. --undo
takes it back into service. The peer id is the whole one (pressmesh nodes --json).

${CLIENT_OPTIONS_USAGE}`

export async function drainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CLIENT_OPTIONS,
      undo: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  })

  if (positionals.length !== 1) {
    throw new UsageError(DRAIN_USAGE)
  }

  const node = await (await connect(values)).drainNode(positionals[0], !values.undo)

  if (values.json) {
    process.stdout.write(`${JSON.stringify(node)}\n`)
  } else {
    const state = node.draining ? 'draining' : 'in service'
    process.stdout.write(`node ${node.peer} ${state} (${node.running} tasks running)\n`)
  }

  return 0
}
