import { parseArgs } from 'node:util'
import { ROLES, type TokenView, tokenCreateSchema } from '../../protocol/api.ts'
import { describeIssue } from '../../protocol/jobs.ts'
import { connect } from '../client/connect.ts'
import { formatTable, formatTime } from '../client/format.ts'
import { CLIENT_OPTIONS, CLIENT_OPTIONS_USAGE, type ClientFlags } from '../client/settings.ts'
import { UsageError } from '../exit-codes.ts'

export const TOKEN_USAGE = `usage: pressmesh token create --name NAME --role ROLE [--json]
       pressmesh token list [--json]
       pressmesh token revoke <token-id> [--json]

Manages the coordinator's bearer tokens (an admin's job). create prints the new token's secret
once and never again, so store it then. revoke takes the id shown by list.
Roles: ${ROLES.join(', ')}.

${CLIENT_OPTIONS_USAGE}`

export async function tokenCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...CLIENT_OPTIONS,
      name: { type: 'string' },
      role: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  })
  const [action, ...rest] = positionals

  if (action === 'create' && rest.length === 0) {
    return createToken(values)
  }

  if (action === 'list' && rest.length === 0) {
    const tokens = await (await connect(values)).listTokens()
    process.stdout.write(values.json ? `${JSON.stringify(tokens)}\n` : `${formatTokens(tokens)}\n`)
    return 0
  }

  if (action === 'revoke' && rest.length === 1) {
    const token = await (await connect(values)).revokeToken(rest[0])
    const text = `token ${token.id} (${token.name}) revoked`
    process.stdout.write(values.json ? `${JSON.stringify(token)}\n` : `${text}\n`)
    return 0
  }

  throw new UsageError(TOKEN_USAGE)
}

async function createToken(values: ClientFlags & { name?: string; role?: string; json: boolean }) {
  const parsed = tokenCreateSchema.safeParse({ name: values.name, role: values.role })

  if (!parsed.success) {
    throw new UsageError(`pressmesh token create: --${describeIssue(parsed.error)}`)
  }

  const client = await connect(values)
  const created = await client.createToken(parsed.data.name, parsed.data.role)

  if (values.json) {
    process.stdout.write(`${JSON.stringify(created)}\n`)
  } else {
    process.stdout.write(
      `token ${created.id} (${created.name}, ${created.role})\n${created.token}\n`,
    )
  }

  process.stderr.write('pressmesh: this is the only time the token is shown; store it now\n')
  return 0
}

function formatTokens(tokens: TokenView[]): string {
  if (tokens.length === 0) {
    return 'no tokens'
  }

  const rows = tokens.map((token) => [
    token.id,
    token.name,
    token.role,
    formatTime(token.createdAt),
    token.revokedAt === undefined ? '-' : formatTime(token.revokedAt),
  ])

  return formatTable(['ID', 'NAME', 'ROLE', 'CREATED', 'REVOKED'], rows)
}
