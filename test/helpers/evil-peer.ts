import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import type { ParsedManifest } from '../../protocol/manifest.ts'
import { Bitfield } from '../../protocol/mesh/bitfield.ts'
import { chunkOrder } from '../../protocol/mesh/chunk-order.ts'
import { decodeRequest, encodeDataHeader } from '../../protocol/mesh/frames.ts'
import { encodeGossip } from '../../protocol/mesh/gossip.ts'
import { createMeshHost, type MeshHost } from '../../protocol/mesh/host.ts'
import { CHUNKS_PROTOCOL, HAVE_TOPIC, PRESENCE_TOPIC } from '../../protocol/mesh/protocol-ids.ts'

// A peer that claims to hold every chunk of a manifest and answers every request with bytes of
// the right size that are not the chunk: what a broken disk or a hostile node looks like.

export interface EvilPeer {
  host: MeshHost
  served: () => number
  stop: () => Promise<void>
}

export async function startEvilPeer(
  bootstrap: string,
  known: ParsedManifest,
  master: string,
): Promise<EvilPeer> {
  const host = await createMeshHost({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: [bootstrap],
  })
  const order = chunkOrder(known.manifest)
  const sizes = new Map(order.ids.map((id, i) => [id, order.sizes[i]]))
  let served = 0

  await host.handle(CHUNKS_PROTOCOL, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: 4096 })
    try {
      const ids = decodeRequest((await lp.read()).subarray())
      for (const id of ids) {
        served++
        await lp.write(
          new Uint8ArrayList(encodeDataHeader(id), new Uint8Array(sizes.get(id) ?? 1).fill(0x5a)),
        )
      }
      await stream.close()
    } catch (err) {
      stream.abort(err as Error)
    }
  })

  const bits = new Bitfield(order.ids.length)
  for (let i = 0; i < order.ids.length; i++) {
    bits.set(i)
  }

  const announce = async () => {
    const presence = encodeGossip({
      v: 1,
      type: 'presence',
      roles: ['production'],
      site: 'default',
      slots: 4,
      load: 0,
      freeDiskBytes: 1e12,
      version: '0.1.0',
      wants: [],
      building: [],
      addrs: host.getMultiaddrs().map((addr) => addr.toString()),
    })
    const have = encodeGossip({
      v: 1,
      type: 'have',
      manifest: known.id,
      master,
      site: 'default',
      chunks: bits.length,
      bits: bits.toBase64(),
      wanting: false,
    })
    await host.services.pubsub.publish(PRESENCE_TOPIC, presence).catch(() => undefined)
    await host.services.pubsub.publish(HAVE_TOPIC, have).catch(() => undefined)
  }

  host.services.pubsub.subscribe(PRESENCE_TOPIC)
  host.services.pubsub.subscribe(HAVE_TOPIC)
  const timer = setInterval(() => void announce(), 300)

  return {
    host,
    served: () => served,
    stop: async () => {
      clearInterval(timer)
      await host.stop()
    },
  }
}
