import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { z } from 'zod'
import { InvalidInputError } from '../../protocol/errors.ts'

// Where the client finds its coordinator and token. In rising precedence: the config file, the
// environment, the flags. Without a token anywhere, the admin token that `npm start` writes into
// ./.pressmesh is used, so the quick start needs no flags.

export const DEFAULT_COORDINATOR = 'http://127.0.0.1:8080'
export const DEV_TOKEN_FILE = join('.pressmesh', 'admin-token')
const MAX_CONFIG_BYTES = 64 * 1024
const MAX_TOKEN_FILE_BYTES = 16 * 1024

/** The options every client command accepts, for node:util parseArgs. */
export const CLIENT_OPTIONS = {
  coordinator: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  config: { type: 'string' },
} as const

export const CLIENT_OPTIONS_USAGE = `connection: --coordinator URL (default ${DEFAULT_COORDINATOR}),
--token T or --token-file FILE, --config FILE; else PRESSMESH_COORDINATOR, PRESSMESH_TOKEN,
PRESSMESH_TOKEN_FILE; else the config file $XDG_CONFIG_HOME/pressmesh/client.json
({"coordinator", "token", "tokenFile"}); else, for the token, ./.pressmesh/admin-token.`

const coordinatorUrl = z
  .string()
  .refine(isHttpUrl, 'an http:// or https:// URL of the coordinator, e.g. http://127.0.0.1:8080')

export const clientConfigSchema = z.strictObject({
  /** Base URL of the coordinator, e.g. `https://pressmesh.example.com`. */
  coordinator: coordinatorUrl.optional(),
  /** A bearer token. */
  token: z.string().min(1).optional(),
  /** A file holding the bearer token on its first line; relative to the config file. */
  tokenFile: z.string().min(1).optional(),
})
export type ClientConfig = z.infer<typeof clientConfigSchema>

export interface ClientFlags {
  coordinator?: string
  token?: string
  'token-file'?: string
  config?: string
}

export interface SettingsEnvironment {
  env?: NodeJS.ProcessEnv
  cwd?: string
  home?: string
}

export interface ClientSettings {
  coordinator: string
  token?: string
  /** Where the token came from, for messages: `--token`, `PRESSMESH_TOKEN_FILE`, … */
  tokenSource?: string
}

interface TokenChoice {
  token?: string
  file?: string
  source: string
}

export async function resolveSettings(
  flags: ClientFlags,
  environment: SettingsEnvironment = {},
): Promise<ClientSettings> {
  const env = environment.env ?? process.env
  const cwd = environment.cwd ?? process.cwd()
  const { config, dir } = await readConfig(flags.config, env, cwd, environment.home)

  if (flags.token !== undefined && flags['token-file'] !== undefined) {
    throw new InvalidInputError('CLIENT_USAGE', 'give either --token or --token-file, not both')
  }

  const coordinator = pickCoordinator(flags.coordinator, env.PRESSMESH_COORDINATOR, config)
  const choices: TokenChoice[] = [
    {
      token: flags.token,
      file: flags['token-file'] && resolve(cwd, flags['token-file']),
      source: '--token',
    },
    {
      token: env.PRESSMESH_TOKEN || undefined,
      file: env.PRESSMESH_TOKEN_FILE && resolve(cwd, env.PRESSMESH_TOKEN_FILE),
      source: 'PRESSMESH_TOKEN',
    },
    {
      token: config.token,
      file: config.tokenFile && resolve(dir, config.tokenFile),
      source: 'the config file',
    },
  ]

  for (const choice of choices) {
    if (choice.token !== undefined) {
      return { coordinator, token: choice.token, tokenSource: choice.source }
    }

    if (choice.file) {
      return { coordinator, token: await readTokenFile(choice.file), tokenSource: choice.file }
    }
  }

  const devToken = resolve(cwd, DEV_TOKEN_FILE)
  const token = await readTokenFile(devToken, true)
  return token === undefined ? { coordinator } : { coordinator, token, tokenSource: devToken }
}

function pickCoordinator(flag: string | undefined, env: string | undefined, config: ClientConfig) {
  const [text, source] =
    flag !== undefined
      ? [flag, '--coordinator']
      : env
        ? [env, 'PRESSMESH_COORDINATOR']
        : [config.coordinator ?? DEFAULT_COORDINATOR, 'the config file']

  if (!isHttpUrl(text)) {
    throw new InvalidInputError(
      'CLIENT_BAD_COORDINATOR',
      `${source}: "${text}" is not an http:// or https:// URL of the coordinator`,
    )
  }

  return text.replace(/\/+$/, '')
}

async function readConfig(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv,
  cwd: string,
  home = homedir(),
): Promise<{ config: ClientConfig; dir: string }> {
  const path =
    explicit === undefined
      ? join(env.XDG_CONFIG_HOME || join(home, '.config'), 'pressmesh', 'client.json')
      : resolve(cwd, explicit)
  const bytes = await readSmallFile(path, MAX_CONFIG_BYTES, 'CONFIG')

  if (bytes === undefined) {
    if (explicit !== undefined) {
      throw new InvalidInputError('CONFIG_NOT_FOUND', `no such config file: ${path}`)
    }

    return { config: {}, dir: cwd }
  }

  return { config: parseConfig(bytes, path), dir: dirname(path) }
}

export function parseConfig(bytes: Buffer, path: string): ClientConfig {
  let document: unknown
  try {
    document = JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    throw new InvalidInputError('CONFIG_INVALID', `${path} is not JSON`, { cause: err })
  }

  const parsed = clientConfigSchema.safeParse(document)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue.path.length === 0 ? '' : `${issue.path.join('.')}: `
    throw new InvalidInputError('CONFIG_INVALID', `${path}: ${where}${issue.message}`)
  }

  return parsed.data
}

/** A token file holds the token on its first line; an absent optional file gives undefined. */
async function readTokenFile(path: string, optional = false): Promise<string | undefined> {
  const bytes = await readSmallFile(path, MAX_TOKEN_FILE_BYTES, 'TOKEN_FILE')

  if (bytes === undefined) {
    if (optional) {
      return undefined
    }

    throw new InvalidInputError('TOKEN_FILE_NOT_FOUND', `no such token file: ${path}`)
  }

  const token = bytes.toString('utf8').split(/\r?\n/, 1)[0].trim()
  if (token === '') {
    throw new InvalidInputError(
      'TOKEN_FILE_EMPTY',
      `the token file ${path} has no token on its first line`,
    )
  }

  return token
}

async function readSmallFile(path: string, max: number, what: string) {
  const bytes = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') {
      return undefined
    }

    throw new InvalidInputError(`${what}_UNREADABLE`, `cannot read ${path}: ${err.message}`, {
      cause: err,
    })
  })

  if (bytes !== undefined && bytes.length > max) {
    throw new InvalidInputError(`${what}_TOO_LARGE`, `${path} is larger than ${max} bytes`)
  }

  return bytes
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}
