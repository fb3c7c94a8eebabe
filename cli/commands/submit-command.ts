import { parseArgs } from 'node:util'
import { jobSubmitSchema, type JobSubmit, PRIORITY_DEFAULT } from '../../protocol/jobs.ts'
import { connect } from '../client/connect.ts'
import { CLIENT_OPTIONS, CLIENT_OPTIONS_USAGE } from '../client/settings.ts'
import { UsageError } from '../exit-codes.ts'
import { followJob } from './watch-command.ts'

export const SUBMIT_USAGE = `usage: pressmesh submit --product P --version V --master URL|MANIFEST
         --media tar,tar.gz,iso,iso:dvd5,img,img:mbr [--priority 0-9] [--idempotency-key K]
         [--watch] [--json]
       pressmesh submit --preheat --product P --version V --master URL|MANIFEST
         (--nodes PEER,PEER | --sites SITE,SITE | --all | --each-site) [--priority 0-9]
         [--watch] [--json]

Submits a publishing job: the media to make from a master (an http(s):// or file:// URL on a
storage server, or a manifest id). iso:cd700|dvd5|dvd9|bd25 splits an iso into a disc set,
img:mbr puts the image behind a partition table. --preheat instead spreads the master's chunks
to nodes ahead of time: named nodes, every production node of some sites, every production
node, or one production node per site. The priority defaults to ${PRIORITY_DEFAULT}; the same
--idempotency-key twice answers the first job. Prints the job id (--json: the job); --watch
then follows the job as pressmesh watch does.

${CLIENT_OPTIONS_USAGE}`

/** Which flag sets each field of the job, for messages. */
const FLAGS: Record<string, string> = {
  kind: '--preheat',
  product: '--product',
  version: '--version',
  master: '--master',
  media: '--media',
  preheat: '--nodes, --sites, --all or --each-site',
  priority: '--priority',
  idempotencyKey: '--idempotency-key',
}
const TARGET_FLAGS: Record<string, string> = {
  nodes: '--nodes',
  sites: '--sites',
  all: '--all',
  eachSite: '--each-site',
}

export interface SubmitFlags {
  product?: string
  version?: string
  master?: string
  media?: string
  priority?: string
  'idempotency-key'?: string
  preheat?: boolean
  nodes?: string
  sites?: string
  all?: boolean
  'each-site'?: boolean
}

export async function submitCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CLIENT_OPTIONS,
      product: { type: 'string' },
      version: { type: 'string' },
      master: { type: 'string' },
      media: { type: 'string' },
      priority: { type: 'string' },
      'idempotency-key': { type: 'string' },
      preheat: { type: 'boolean', default: false },
      nodes: { type: 'string' },
      sites: { type: 'string' },
      all: { type: 'boolean', default: false },
      'each-site': { type: 'boolean', default: false },
      watch: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  })

  if (positionals.length > 0) {
    throw new UsageError(`pressmesh submit takes no arguments, only flags\n\n${SUBMIT_USAGE}`)
  }

  const body = jobFromFlags(values)
  const client = await connect(values)
  const { job, created } = await client.submitJob(body)

  if (!created) {
    process.stderr.write(`pressmesh: the idempotency key was seen before; this is job ${job.id}\n`)
  }

  process.stdout.write(values.json ? `${JSON.stringify(job)}\n` : `${job.id}\n`)
  return values.watch ? followJob(client, job.id, { json: values.json }) : 0
}

/** The job body for the flags, checked with the schema the coordinator checks it with. */
export function jobFromFlags(values: SubmitFlags): JobSubmit {
  const input: Record<string, unknown> = {
    kind: values.preheat ? 'preheat' : 'publish',
    product: values.product,
    version: values.version,
    master: values.master,
  }

  if (values.media !== undefined) {
    input.media = parseMedia(values.media)
  }

  if (values.preheat) {
    input.preheat = preheatTarget(values)
  } else if (
    values.nodes !== undefined ||
    values.sites !== undefined ||
    values.all ||
    values['each-site']
  ) {
    throw new UsageError(
      'pressmesh submit: --nodes, --sites, --all and --each-site go with --preheat',
    )
  }

  if (values.priority !== undefined) {
    input.priority = parsePriority(values.priority)
  }

  if (values['idempotency-key'] !== undefined) {
    input.idempotencyKey = values['idempotency-key']
  }

  const parsed = jobSubmitSchema.safeParse(input)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const flag = flagFor(issue.path, values)
    const required = issue.path.length === 1 && input[String(issue.path[0])] === undefined
    throw new UsageError(
      `pressmesh submit: ${flag}${required ? ' is required' : `: ${issue.message}`}`,
    )
  }

  return parsed.data
}

/**
 * `tar,iso:dvd5,img:mbr` →
 * `{format:'tar'}, {format:'iso',disc:'dvd5'}, {format:'img',mbr:true}`
 */
export function parseMedia(text: string): Record<string, unknown>[] {
  return text.split(',').map((item) => {
    const [format, option, ...rest] = item.trim().split(':')

    if (format === '' || rest.length > 0) {
      throw new UsageError(
        `pressmesh submit: --media: "${item}" is not a medium (e.g. tar.gz, iso:dvd5)`,
      )
    }

    if (option === undefined) {
      return { format }
    }

    if (format === 'img' && option === 'mbr') {
      return { format, mbr: true }
    }

    if (format === 'iso') {
      return { format, disc: option }
    }

    throw new UsageError(
      `pressmesh submit: --media: "${item}": only iso:<disc> and img:mbr take an option`,
    )
  })
}

function preheatTarget(values: SubmitFlags) {
  const list = (text: string) =>
    text
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean)
  const target: Record<string, unknown> = {}

  if (values.nodes !== undefined) {
    target.nodes = list(values.nodes)
  }

  if (values.sites !== undefined) {
    target.sites = list(values.sites)
  }

  if (values.all) {
    target.all = true
  }

  if (values['each-site']) {
    target.eachSite = true
  }

  return target
}

function parsePriority(text: string): number {
  if (!/^\d+$/.test(text.trim())) {
    throw new UsageError(
      `pressmesh submit: --priority: "${text}" is not a whole number from 0 to 9`,
    )
  }

  return Number(text)
}

function flagFor(path: PropertyKey[], values: SubmitFlags): string {
  const [field, index, sub] = path

  if (field === 'media' && typeof index === 'number') {
    const item = (values.media ?? '').split(',')[index]?.trim()
    return `--media "${item}"`
  }

  if (field === 'preheat' && typeof index === 'string') {
    return TARGET_FLAGS[index] ?? FLAGS.preheat
  }

  return FLAGS[String(field)] ?? (sub === undefined ? String(field) : path.join('.'))
}
