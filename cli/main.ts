import { PRESSMESH_VERSION } from '../protocol/constants.ts'
import { DEV_USAGE, devCommand } from './commands/dev-command.ts'
import { DIFF_USAGE, diffCommand } from './commands/diff-command.ts'
import { FETCH_USAGE, fetchCommand } from './commands/fetch-command.ts'
import { INDEX_USAGE, indexCommand } from './commands/index-command.ts'
import { KEYGEN_USAGE, keygenCommand } from './commands/keygen-command.ts'
import { NODE_USAGE, nodeCommand } from './commands/node-command.ts'
import { PACK_USAGE, packCommand } from './commands/pack-command.ts'
import { VERIFY_USAGE, verifyCommand } from './commands/verify-command.ts'
import { CANCEL_USAGE, cancelCommand } from './commands/cancel-command.ts'
import { COORDINATOR_USAGE, coordinatorCommand } from './commands/coordinator-command.ts'
import { DRAIN_USAGE, drainCommand } from './commands/drain-command.ts'
import { JOBS_USAGE, jobsCommand } from './commands/jobs-command.ts'
import { NODES_USAGE, nodesCommand } from './commands/nodes-command.ts'
import { STATUS_USAGE, statusCommand } from './commands/status-command.ts'
import { SUBMIT_USAGE, submitCommand } from './commands/submit-command.ts'
import { TOKEN_USAGE, tokenCommand } from './commands/token-command.ts'
import { WATCH_USAGE, watchCommand } from './commands/watch-command.ts'
import { describeError, EXIT_BAD_INPUT, exitCodeFor } from './exit-codes.ts'

type Command = (argv: string[]) => Promise<number>

const COMMANDS: Record<string, { run: Command; usage: string }> = {
  dev: { run: devCommand, usage: DEV_USAGE },
  index: { run: indexCommand, usage: INDEX_USAGE },
  diff: { run: diffCommand, usage: DIFF_USAGE },
  coordinator: { run: coordinatorCommand, usage: COORDINATOR_USAGE },
  node: { run: nodeCommand, usage: NODE_USAGE },
  fetch: { run: fetchCommand, usage: FETCH_USAGE },
  pack: { run: packCommand, usage: PACK_USAGE },
  verify: { run: verifyCommand, usage: VERIFY_USAGE },
  keygen: { run: keygenCommand, usage: KEYGEN_USAGE },
  submit: { run: submitCommand, usage: SUBMIT_USAGE },
  status: { run: statusCommand, usage: STATUS_USAGE },
  watch: { run: watchCommand, usage: WATCH_USAGE },
  cancel: { run: cancelCommand, usage: CANCEL_USAGE },
  jobs: { run: jobsCommand, usage: JOBS_USAGE },
  nodes: { run: nodesCommand, usage: NODES_USAGE },
  drain: { run: drainCommand, usage: DRAIN_USAGE },
  token: { run: tokenCommand, usage: TOKEN_USAGE },
}

const HELP = `pressmesh ${PRESSMESH_VERSION}: publishing desktop software over a chunk-sharing mesh

commands:
  dev                    run locally with embedded defaults (what npm start runs)
  index <path>           chunk a master, print or write its manifest
  diff <old> <new>       compare two manifests: what a holder of the old one must fetch
  coordinator            start a coordinator (API on 127.0.0.1:8080, mesh on port 4001)
  node                   start a mesh node
  fetch <master-url>     ask a running node to bring a master into its store
  pack <path> --format F write one medium (tar, tar.gz, img, iso) with its sums and signature

  verify <folder>        check a medium folder's sums and signature
  keygen --psk|--release write a private-network key or a release key pair

coordinator client (--coordinator URL, --token T; see pressmesh submit --help):
  submit --master M …    submit a publishing or preheat job
  status <job-id>        a job, its tasks and its last events
  watch <job-id>         follow a job to its end (exit 4 when it failed or was cancelled)
  cancel <job-id>        cancel a job
  jobs                   list jobs, newest first
  nodes                  list the mesh nodes and their load
  drain <peer> [--undo]  stop giving a node new tasks, or take it back
  token create|list|revoke  manage bearer tokens

pressmesh <command> --help prints a command's options.`

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv

  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${HELP}\n`)
    return name === undefined ? EXIT_BAD_INPUT : 0
  }

  if (name === '--version') {
    process.stdout.write(`${PRESSMESH_VERSION}\n`)
    return 0
  }

  const command = COMMANDS[name]
  if (command === undefined) {
    process.stderr.write(`pressmesh: unknown command "${name}"\n\n${HELP}\n`)
    return EXIT_BAD_INPUT
  }

  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.usage}\n`)
    return 0
  }

  try {
    return await command.run(rest)
  } catch (err) {
    process.stderr.write(`${describeOrUsage(err)}\n`)

    if (process.env.PRESSMESH_DEBUG) {
      process.stderr.write(`${(err as Error).stack}\n`)
    }

    return exitCodeFor(err)
  }
}

function describeOrUsage(err: unknown): string {
  // node:util parseArgs throws plain TypeErrors with a code for unknown or malformed options.
  const code = (err as { code?: string }).code
  if (code?.startsWith('ERR_PARSE_ARGS')) {
    return `pressmesh: ${(err as Error).message}`
  }

  return describeError(err)
}
