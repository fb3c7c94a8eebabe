import { z } from 'zod'
import { InvalidInputError } from '../errors.ts'
import { MAX_GOSSIP_BYTES } from './constants.ts'

// Gossip messages are small JSON documents. The sender is the gossip message's signed `from`,
// never a field of the document, so a peer cannot speak for another.

const hex64 = z.string().regex(/^[0-9a-f]{64}$/)
const url = z.string().min(1).max(4096)
const site = z.string().min(1).max(64)

export const presenceSchema = z.strictObject({
  v: z.literal(1),
  type: z.literal('presence'),
  roles: z.array(z.enum(['production', 'staging', 'coordinator'])).max(4),
  site,
  /** Free task slots. */
  slots: z.number().int().min(0).max(1024),
  /** One-minute load average divided by cores. */
  load: z.number().min(0).max(1e6),
  freeDiskBytes: z.number().int().min(0),
  version: z.string().max(64),
  /** The node's HTTP endpoint, for operators. */
  http: z.string().max(256).optional(),
  /** Masters (by URL) this node is fetching and has no manifest for yet. */
  wants: z.array(url).max(64),
  /** Masters this node is streaming from the storage server to build their manifest. */
  building: z.array(url).max(64),
  /** Multiaddrs the node listens on, so peers that learn of it by gossip can dial it. */
  addrs: z.array(z.string().max(256)).max(16),
})

export const haveSchema = z.strictObject({
  v: z.literal(1),
  type: z.literal('have'),
  manifest: hex64,
  /** The master URL this manifest was built from, when the sender knows it. */
  master: url.optional(),
  site,
  /** Number of chunks in the manifest's chunk order. */
  chunks: z.number().int().min(0).max(4_000_000),
  /** Bitfield over the chunk order, base64. */
  bits: z.string().max(700_000),
  /** The sender still needs chunks of this manifest. */
  wanting: z.boolean(),
})

export type Presence = z.infer<typeof presenceSchema>
export type Have = z.infer<typeof haveSchema>
export type GossipMessage = Presence | Have

const messageSchema = z.discriminatedUnion('type', [presenceSchema, haveSchema])

export function encodeGossip(message: GossipMessage): Uint8Array {
  return Buffer.from(JSON.stringify(message), 'utf8')
}

export function decodeGossip(data: Uint8Array): GossipMessage {
  if (data.length > MAX_GOSSIP_BYTES) {
    throw new InvalidInputError('GOSSIP_TOO_LARGE', `gossip message of ${data.length} bytes`)
  }

  let document: unknown
  try {
    document = JSON.parse(Buffer.from(data).toString('utf8'))
  } catch (err) {
    throw new InvalidInputError('GOSSIP_NOT_JSON', 'gossip message is not JSON', { cause: err })
  }

  const parsed = messageSchema.safeParse(document)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new InvalidInputError(
      'GOSSIP_INVALID',
      `gossip field ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    )
  }

  return parsed.data
}
