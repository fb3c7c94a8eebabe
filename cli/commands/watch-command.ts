import { parseArgs } from 'node:util'
import { CLIENT_OPTIONS, CLIENT_OPTIONS_USAGE } from '../client/settings.ts'
import { connect } from '../client/connect.ts'
import type { CoordinatorClient } from '../client/http-client.ts'
import { watchJob } from '../client/watch.ts'
import { watchView } from '../client/watch-view.ts'
import { EXIT_JOB_FAILED, EXIT_OK, UsageError } from '../exit-codes.ts'

export const WATCH_USAGE = `usage: pressmesh watch <job-id> [--json]

Follows a job until it succeeds, fails or is cancelled: on a terminal a live bar per task, else
one line per state change; --json prints one JSON line per event ({"event","data"}). A dropped
event stream is reopened (up to 8 attempts, at most 5 s apart). Exits 0 when the job succeeded
and 4 when it failed or was cancelled.

${CLIENT_OPTIONS_USAGE}`

export async function watchCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...CLIENT_OPTIONS, json: { type: 'boolean', default: false } },
  })

  if (positionals.length !== 1) {
    throw new UsageError(WATCH_USAGE)
  }

  return followJob(await connect(values), positionals[0], { json: values.json })
}

/** Watches a job to its end; answers the exit code. Shared with `submit --watch`. */
export async function followJob(
  client: CoordinatorClient,
  id: string,
  mode: { json: boolean },
): Promise<number> {
  const view = watchView(mode, process.stdout, process.stderr)
  let job: Awaited<ReturnType<typeof watchJob>>

  try {
    job = await watchJob({ client, job: id, view })
  } finally {
    view.close()
  }

  if (job.state === 'succeeded') {
    return EXIT_OK
  }

  const reason = job.error ? `: ${job.error.message} [${job.error.code}]` : ''
  const verb = job.state === 'cancelled' ? 'was cancelled' : 'failed'
  process.stderr.write(`pressmesh: job ${job.id} ${verb}${reason}\n`)
  return EXIT_JOB_FAILED
}
