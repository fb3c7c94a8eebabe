import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { z } from 'zod'
import type { MeshNodeConfig, NodeRole } from '../node/mesh-node.ts'
import { readPrivateKey } from '../node/media/release-key.ts'
import { InvalidInputError } from '../protocol/errors.ts'
import { readAllowList, readPsk } from '../protocol/mesh/keys.ts'
import { parseSize } from './args.ts'
import { UsageError } from './exit-codes.ts'

// A node's settings come from, in rising precedence: defaults, a JSON config file (--config),
// environment variables (PRESSMESH_NODE_*), and command-line flags. Every field is optional.

const fileSchema = z.strictObject({
  /** Data folder: peer key, chunk store, manifests. */
  data: z.string().optional(),
  /** Multiaddrs to listen on. */
  listen: z.array(z.string()).optional(),
  /** Multiaddrs of peers to connect to at start (with /p2p/<peer id>). */
  bootstrap: z.array(z.string()).optional(),
  /** production and/or staging. */
  roles: z.array(z.enum(['production', 'staging'])).optional(),
  /** Build site name; the node prefers peers of its own site. */
  site: z.string().min(1).max(64).optional(),
  /** Path of the private-network key (pressmesh keygen --psk). */
  psk: z.string().optional(),
  /** Path of a file of peer ids allowed to connect, one per line. */
  allowPeers: z.string().optional(),
  /** Port of the HTTP endpoint (/health, /metrics); 0 picks a free one. */
  http: z.number().int().min(0).max(65535).optional(),
  /** Address the HTTP endpoint binds to. */
  httpHost: z.string().optional(),
  /** Chunk store capacity, e.g. "64GiB". */
  capacity: z.string().optional(),
  /** Write fetched chunks past the page cache (O_DIRECT) where possible; default true. */
  directWrites: z.boolean().optional(),
  /** Tasks the node runs at once. */
  slots: z.number().int().min(1).max(64).optional(),
  /** Path of the release key's private half (pressmesh keygen --release): signs packed media. */
  releaseKey: z.string().optional(),
  /** A coordinator's URL: the node asks it where to join the mesh (GET /api/v1/mesh). */
  coordinator: z.string().url().optional(),
})

export type NodeSettings = z.infer<typeof fileSchema>

export interface ResolvedNodeSettings {
  config: MeshNodeConfig
  /** Ask this coordinator for its mesh addresses and add them to the bootstrap list. */
  coordinator?: string
  httpPort: number
  httpHost: string
}

export const NODE_DEFAULTS = {
  data: '.pressmesh/node',
  listen: ['/ip4/127.0.0.1/tcp/0'],
  roles: ['production'] as NodeRole[],
  site: 'default',
  http: 0,
  httpHost: '127.0.0.1',
  slots: 2,
} as const

export async function loadConfigFile(path: string | undefined): Promise<NodeSettings> {
  if (path === undefined) {
    return {}
  }

  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new InvalidInputError('CONFIG_UNREADABLE', `cannot read the config file ${path}`, {
      cause: err,
    })
  }

  let document: unknown
  try {
    document = JSON.parse(text)
  } catch (err) {
    throw new InvalidInputError('CONFIG_INVALID', `${path} is not JSON`, { cause: err })
  }

  const parsed = fileSchema.safeParse(document)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new InvalidInputError(
      'CONFIG_INVALID',
      `${path}: ${issue.path.join('.')}: ${issue.message}`,
    )
  }

  return parsed.data
}

export function settingsFromEnv(env: NodeJS.ProcessEnv): NodeSettings {
  const list = (value: string | undefined) =>
    value
      ?.split(',')
      .map((item) => item.trim())
      .filter(Boolean)
  const number = (value: string | undefined, name: string) => {
    if (value === undefined) {
      return undefined
    }

    const parsed = Number(value)
    if (!Number.isInteger(parsed)) {
      throw new UsageError(`${name} must be a whole number, got "${value}"`)
    }

    return parsed
  }

  return {
    data: env.PRESSMESH_NODE_DATA,
    listen: list(env.PRESSMESH_NODE_LISTEN),
    bootstrap: list(env.PRESSMESH_NODE_BOOTSTRAP),
    roles: list(env.PRESSMESH_NODE_ROLES) as NodeRole[] | undefined,
    site: env.PRESSMESH_NODE_SITE,
    psk: env.PRESSMESH_NODE_PSK,
    allowPeers: env.PRESSMESH_NODE_ALLOW_PEERS,
    http: number(env.PRESSMESH_NODE_HTTP, 'PRESSMESH_NODE_HTTP'),
    capacity: env.PRESSMESH_NODE_CAPACITY,
    directWrites: onOff(env.PRESSMESH_NODE_DIRECT_WRITES, 'PRESSMESH_NODE_DIRECT_WRITES'),
    slots: number(env.PRESSMESH_NODE_SLOTS, 'PRESSMESH_NODE_SLOTS'),
    releaseKey: env.PRESSMESH_NODE_RELEASE_KEY,
    coordinator: env.PRESSMESH_NODE_COORDINATOR,
  }
}

/** `on` or `off` (also true/false, 1/0), as a boolean; undefined when unset. */
export function onOff(value: string | undefined, name: string): boolean | undefined {
  if (value === undefined) {
    return undefined
  }

  const normalized = value.trim().toLowerCase()
  if (['on', 'true', '1'].includes(normalized)) {
    return true
  }

  if (['off', 'false', '0'].includes(normalized)) {
    return false
  }

  throw new UsageError(`${name} must be on or off, got "${value}"`)
}

/** Merges the layers (later wins) and loads the key files they name. */
export async function resolveNodeSettings(
  ...layers: NodeSettings[]
): Promise<ResolvedNodeSettings> {
  const merged: NodeSettings = {}

  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (value !== undefined) {
        Object.assign(merged, { [key]: value })
      }
    }
  }

  const slots = merged.slots ?? NODE_DEFAULTS.slots
  if (!Number.isInteger(slots) || slots < 1 || slots > 64) {
    throw new UsageError(`slots must be a whole number from 1 to 64, got "${slots}"`)
  }

  const roles = merged.roles ?? NODE_DEFAULTS.roles
  for (const role of roles) {
    if (role !== 'production' && role !== 'staging') {
      throw new UsageError(`unknown role "${role}": use production and/or staging`)
    }
  }

  return {
    config: {
      dataDir: resolve(merged.data ?? NODE_DEFAULTS.data),
      listen: merged.listen ?? [...NODE_DEFAULTS.listen],
      bootstrap: merged.bootstrap ?? [],
      roles,
      site: merged.site ?? NODE_DEFAULTS.site,
      psk: merged.psk ? await readPsk(merged.psk) : undefined,
      allowPeers: merged.allowPeers ? await readAllowList(merged.allowPeers) : undefined,
      capacityBytes: merged.capacity ? parseSize(merged.capacity, 'capacity') : undefined,
      directWrites: merged.directWrites,
      slots,
      releaseKey: merged.releaseKey ? await readPrivateKey(merged.releaseKey) : undefined,
    },
    httpPort: merged.http ?? NODE_DEFAULTS.http,
    httpHost: merged.httpHost ?? NODE_DEFAULTS.httpHost,
    coordinator: merged.coordinator,
  }
}
