import { parseArgs } from 'node:util'
import { type JobView, jobListQuerySchema } from '../../protocol/api.ts'
import { describeIssue } from '../../protocol/jobs.ts'
import { connect } from '../client/connect.ts'
import { formatCounts, formatTable, formatTime, mediumLabel } from '../client/format.ts'
import type { CoordinatorClient, JobListQuery } from '../client/http-client.ts'
import { CLIENT_OPTIONS, CLIENT_OPTIONS_USAGE } from '../client/settings.ts'
import { UsageError } from '../exit-codes.ts'

/** --all stops after this many pages, so that a server that keeps answering `next` ends. */
export const MAX_PAGES = 200

export const JOBS_USAGE = `usage: pressmesh jobs [--state queued|running|succeeded|failed|cancelled]
         [--product P] [--kind publish|preheat] [--limit N] [--all] [--json]

Lists jobs, newest first: one page of --limit jobs (1-500, the coordinator's default 50), or with
--all every page (at most ${MAX_PAGES}). --json prints a JSON array of the jobs.

${CLIENT_OPTIONS_USAGE}`

export async function jobsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CLIENT_OPTIONS,
      state: { type: 'string' },
      product: { type: 'string' },
      kind: { type: 'string' },
      limit: { type: 'string' },
      all: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  })

  if (positionals.length > 0) {
    throw new UsageError(JOBS_USAGE)
  }

  const query = queryFromFlags(values)
  const jobs = await listJobs(await connect(values), query, values.all)

  if (values.json) {
    process.stdout.write(`${JSON.stringify(jobs)}\n`)
  } else {
    process.stdout.write(jobs.length === 0 ? 'no jobs\n' : `${formatJobs(jobs)}\n`)
  }

  return 0
}

function queryFromFlags(values: {
  state?: string
  product?: string
  kind?: string
  limit?: string
}): JobListQuery {
  const input = {
    state: values.state,
    product: values.product,
    kind: values.kind,
    limit: values.limit,
  }
  const parsed = jobListQuerySchema.safeParse(input)

  if (!parsed.success) {
    throw new UsageError(`pressmesh jobs: --${describeIssue(parsed.error)}`)
  }

  return { ...parsed.data, limit: values.limit === undefined ? undefined : parsed.data.limit }
}

async function listJobs(client: CoordinatorClient, query: JobListQuery, all: boolean) {
  const jobs: JobView[] = []
  let cursor: string | undefined

  for (let page = 0; page < (all ? MAX_PAGES : 1); page++) {
    const answer = await client.listJobs({ ...query, cursor })
    jobs.push(...answer.jobs)

    if (answer.next === undefined || answer.next === cursor) {
      return jobs
    }

    cursor = answer.next
  }

  if (all) {
    process.stderr.write(`pressmesh: stopped after ${MAX_PAGES} pages; narrow the query\n`)
  }

  return jobs
}

function formatJobs(jobs: JobView[]): string {
  const rows = jobs.map((job) => [
    job.id,
    job.kind,
    job.state,
    job.product,
    job.version,
    job.media.map(mediumLabel).join(',') || '-',
    formatTime(job.createdAt),
    formatCounts(job.tasks),
  ])

  return formatTable(
    ['JOB', 'KIND', 'STATE', 'PRODUCT', 'VERSION', 'MEDIA', 'CREATED', 'TASKS'],
    rows,
  )
}
