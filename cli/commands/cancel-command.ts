import { parseArgs } from 'node:util'
import { connect } from '../client/connect.ts'
import { CLIENT_OPTIONS, CLIENT_OPTIONS_USAGE } from '../client/settings.ts'
import { UsageError } from '../exit-codes.ts'

export const CANCEL_USAGE = `usage: pressmesh cancel <job-id> [--json]

Cancels a job: its waiting tasks are dropped and running ones are stopped on their nodes. A job
that already finished answers 409 (exit 2). --json prints the job.

${CLIENT_OPTIONS_USAGE}`

export async function cancelCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...CLIENT_OPTIONS, json: { type: 'boolean', default: false } },
  })

  if (positionals.length !== 1) {
    throw new UsageError(CANCEL_USAGE)
  }

  const job = await (await connect(values)).cancelJob(positionals[0])
  process.stdout.write(values.json ? `${JSON.stringify(job)}\n` : `job ${job.id} ${job.state}\n`)
  return 0
}
