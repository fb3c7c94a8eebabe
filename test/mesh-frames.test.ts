import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { blake3Hex, blake3OfPieces } from '../protocol/hash.ts'
import { indexLocalMaster } from '../protocol/local-master.ts'
import { encodeRequest, FRAME_REQUEST } from '../protocol/mesh/frames.ts'
import { createMeshHost } from '../protocol/mesh/host.ts'
import {
  CHUNKS_PROTOCOL,
  HAVE_TOPIC,
  MANIFEST_PROTOCOL,
  PRESENCE_TOPIC,
} from '../protocol/mesh/protocol-ids.ts'
import { requestChunks, requestManifest } from '../node/mesh/peer-client.ts'
import { startNode } from './helpers/mesh.ts'
import { pseudoRandomBytes } from './helpers/random.ts'

// Every kind of malformed input a peer can send on each protocol and topic; after all of it the
// node must still answer a well-formed request.

function varint(value: number): Uint8Array {
  const out: number[] = []
  let rest = value
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80)
    rest = Math.floor(rest / 128)
  }
  out.push(rest)
  return Uint8Array.from(out)
}

const framed = (bytes: Uint8Array) => new Uint8Array([...varint(bytes.length), ...bytes])

const CASES: Array<[string, Uint8Array]> = [
  ['an oversize length prefix', varint(200 * 1024 * 1024)],
  ['a length prefix that never ends', new Uint8Array(12).fill(0xff)],
  ['an unknown frame type', framed(new Uint8Array([0x7f, 1, ...new Uint8Array(32)]))],
  ['a request of zero ids', framed(new Uint8Array([FRAME_REQUEST, 0]))],
  [
    'a request naming more ids than it holds',
    framed(new Uint8Array([FRAME_REQUEST, 3, ...new Uint8Array(32)])),
  ],
  [
    'a request of too many ids',
    framed(new Uint8Array([FRAME_REQUEST, 200, ...new Uint8Array(200 * 32)])),
  ],
  ['a truncated frame', new Uint8Array([...varint(100), 1, 2, 3])],
  ['nothing at all', new Uint8Array()],
]

/** The asker sends nothing and keeps the stream open: the node gives up after its read timeout. */
const SILENT = 'nothing, holding the stream open'

describe('malformed frames and gossip', () => {
  it('reset only the offending stream; the node keeps serving others', async (t) => {
    const work = await mkdtemp(join(tmpdir(), 'pressmesh-frames-'))
    t.after(() => rm(work, { recursive: true, force: true }))
    await mkdir(join(work, 'master'))
    const bytes = pseudoRandomBytes(3 * 1024 * 1024, 4)
    await writeFile(join(work, 'master', 'setup.exe'), bytes)
    // Zeros cut at the maximum chunk size: a 4 MiB chunk frame is larger than lpStream's default.
    await writeFile(join(work, 'master', 'zeros.bin'), Buffer.alloc(9 * 1024 * 1024))

    const node = await startNode({ name: 'target', dataDir: join(work, 'node') })
    t.after(() => node.kill())
    const fetched = await node.fetch(`file://${join(work, 'master')}`)
    const indexed = await indexLocalMaster(join(work, 'master'))
    assert.equal(fetched.manifest, indexed.id)

    const client = await createMeshHost({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
    })
    t.after(() => client.stop())
    await client.dial(multiaddr(node.addresses[0]))
    const target = peerIdFromString(node.peerId)

    const cases = (protocol: string) =>
      protocol === CHUNKS_PROTOCOL ? [...CASES, [SILENT, new Uint8Array()] as const] : CASES

    for (const protocol of [CHUNKS_PROTOCOL, MANIFEST_PROTOCOL]) {
      for (const [what, payload] of cases(protocol)) {
        const stream = await client.dialProtocol(target, protocol)
        if (payload.length > 0) {
          stream.send(payload)
        }

        if (what !== SILENT) {
          await stream.close().catch(() => undefined)
        }

        // The node must reset or close the stream, never answer with data or hang for ever.
        const replies: number[] = []
        await (async () => {
          for await (const chunk of stream) {
            replies.push(chunk.byteLength)
          }
        })().catch(() => undefined)
        assert.equal(
          replies.reduce((a, b) => a + b, 0),
          0,
          `${protocol}: ${what} got an answer`,
        )
      }
    }

    // Only the manifest protocol: a well-formed request for more than one manifest.
    const many = await client.dialProtocol(target, MANIFEST_PROTOCOL)
    await lpStream(many).write(encodeRequest([indexed.id, indexed.id]))
    await (async () => {
      for await (const _ of many) {
        // drain
      }
    })().catch(() => undefined)

    // Gossip that is not JSON, not a known message, or too large.
    client.services.pubsub.subscribe(PRESENCE_TOPIC)
    client.services.pubsub.subscribe(HAVE_TOPIC)
    await sleep(500)
    for (const data of ['not json', '{"v":1,"type":"have"}', '{"v":2}', 'x'.repeat(1_200_000)]) {
      await client.services.pubsub.publish(HAVE_TOPIC, Buffer.from(data)).catch(() => undefined)
      await client.services.pubsub.publish(PRESENCE_TOPIC, Buffer.from(data)).catch(() => undefined)
    }
    await sleep(500)

    // Still serving: a chunk and the manifest, correct.
    const entry = indexed.manifest.files[0]
    assert.equal(entry.type, 'file')
    const [reply] = await requestChunks(client, node.peerId, [entry.chunks[0].id])
    assert.ok(reply.pieces !== undefined)
    assert.equal(blake3OfPieces(reply.pieces), entry.chunks[0].id)

    const zeros = indexed.manifest.files.find((file) => file.path === 'zeros.bin')
    assert.ok(zeros?.type === 'file' && zeros.chunks[0].size === 4 * 1024 * 1024)
    const [largest] = await requestChunks(client, node.peerId, [zeros.chunks[0].id])
    assert.equal(largest.size, 4 * 1024 * 1024)
    assert.equal(blake3OfPieces(largest.pieces ?? []), zeros.chunks[0].id)

    const manifest = await requestManifest(client, node.peerId, indexed.id)
    assert.ok(manifest !== undefined && blake3Hex(manifest) === indexed.id)

    const metrics = await node.metrics()
    assert.ok(
      (metrics.get('pressmesh_bad_frames_total{protocol="chunks"}') ?? 0) >= CASES.length - 2,
    )
    assert.ok((metrics.get('pressmesh_bad_gossip_total') ?? 0) >= 4)
  })
})
