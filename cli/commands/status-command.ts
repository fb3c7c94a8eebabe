import { parseArgs } from 'node:util'
import type { JobDetail, TaskView } from '../../protocol/api.ts'
import { formatBytes } from '../args.ts'
import { connect } from '../client/connect.ts'
import { formatCounts, formatTable, formatTime, mediumLabel, shortPeer } from '../client/format.ts'
import { CLIENT_OPTIONS, CLIENT_OPTIONS_USAGE } from '../client/settings.ts'
import { UsageError } from '../exit-codes.ts'

export const STATUS_USAGE = `usage: pressmesh status <job-id> [--json]

Prints a job, its tasks (kind, medium, state, node, attempt, progress) and its last events;
--json prints the coordinator's whole job document ({job, tasks, events}).

${CLIENT_OPTIONS_USAGE}`

const LAST_EVENTS = 10

export async function statusCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...CLIENT_OPTIONS, json: { type: 'boolean', default: false } },
  })

  if (positionals.length !== 1) {
    throw new UsageError(STATUS_USAGE)
  }

  const detail = await (await connect(values)).getJob(positionals[0])
  process.stdout.write(values.json ? `${JSON.stringify(detail)}\n` : `${formatDetail(detail)}\n`)
  return 0
}

export function formatDetail(detail: JobDetail): string {
  const { job } = detail
  const lines = [
    `job       ${job.id}`,
    `kind      ${job.kind}`,
    `state     ${job.state}${job.error ? `: ${job.error.message} [${job.error.code}]` : ''}`,
    `product   ${job.product} ${job.version}`,
    `master    ${job.master}`,
    ...(job.manifest ? [`manifest  ${job.manifest}`] : []),
    `media     ${job.media.map(mediumLabel).join(', ') || '-'}`,
    `priority  ${job.priority}`,
    `by        ${job.submittedBy}`,
    `created   ${formatTime(job.createdAt)}`,
    ...(job.finishedAt ? [`finished  ${formatTime(job.finishedAt)}`] : []),
    `tasks     ${formatCounts(job.tasks)}`,
  ]

  if (detail.tasks.length > 0) {
    const rows = detail.tasks.map((task) => [
      task.id,
      task.kind,
      mediumLabel(task.medium),
      task.state,
      shortPeer(task.node ?? task.pinnedTo),
      `${task.attempt}/${task.maxAttempts}`,
      taskProgress(task),
    ])
    lines.push(
      '',
      formatTable(['TASK', 'KIND', 'MEDIUM', 'STATE', 'NODE', 'ATTEMPT', 'PROGRESS'], rows),
    )
  }

  if (detail.events.length > 0) {
    lines.push('', 'last events:')

    for (const event of detail.events.slice(-LAST_EVENTS)) {
      const task = event.task === undefined ? '' : ` task ${event.task}`
      lines.push(`  ${formatTime(event.at)}${task} ${event.state}: ${event.message}`)
    }
  }

  return lines.join('\n')
}

function taskProgress(task: TaskView): string {
  if (task.error !== undefined) {
    return `${task.error.message} [${task.error.code}]`
  }

  if (task.progress === undefined) {
    return '-'
  }

  const { phase, done, total } = task.progress
  return `${phase} ${formatBytes(done)} / ${formatBytes(total)}`
}
