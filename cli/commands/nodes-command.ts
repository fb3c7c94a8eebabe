import { parseArgs } from 'node:util'
import type { NodeView } from '../../protocol/api.ts'
import { connect } from '../client/connect.ts'
import { formatTable, shortPeer } from '../client/format.ts'
import { CLIENT_OPTIONS, CLIENT_OPTIONS_USAGE } from '../client/settings.ts'
import { UsageError } from '../exit-codes.ts'

export const NODES_USAGE = `usage: pressmesh nodes [--json]

Lists the mesh nodes the coordinator knows: peer id (shortened; --json has the whole), site,
roles, free task slots, load, tasks running, and whether the node is alive and draining.

${CLIENT_OPTIONS_USAGE}`

export async function nodesCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...CLIENT_OPTIONS, json: { type: 'boolean', default: false } },
  })

  if (positionals.length > 0) {
    throw new UsageError(NODES_USAGE)
  }

  const nodes = await (await connect(values)).listNodes()

  if (values.json) {
    process.stdout.write(`${JSON.stringify(nodes)}\n`)
  } else {
    process.stdout.write(nodes.length === 0 ? 'no nodes\n' : `${formatNodes(nodes)}\n`)
  }

  return 0
}

function formatNodes(nodes: NodeView[]): string {
  const rows = nodes.map((node) => [
    shortPeer(node.peer),
    node.site,
    node.roles.join(',') || '-',
    String(node.slots),
    node.load.toFixed(2),
    String(node.running),
    node.alive ? 'alive' : 'gone',
    node.draining ? 'draining' : '-',
  ])

  return formatTable(['PEER', 'SITE', 'ROLES', 'SLOTS', 'LOAD', 'RUNNING', 'ALIVE', 'DRAIN'], rows)
}
