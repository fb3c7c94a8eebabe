import { createHash } from 'node:crypto'
import { bootstrap } from '@libp2p/bootstrap'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'

// The libp2p host that nodes and the coordinator share: TCP, Noise, Yamux, identify, ping,
// gossipsub, bootstrap; optionally a private network (pre-shared key) and an allow-list of peer
// ids, both checked during the connection handshake.

export interface MeshHostInit {
  privateKey: PrivateKey
  /** Multiaddrs to listen on, e.g. /ip4/127.0.0.1/tcp/0. */
  listen: string[]
  /** Multiaddrs (with /p2p/<id>) dialled at start and kept connected. */
  bootstrap?: string[]
  /** libp2p private-network key (the swarm.key file's bytes). */
  psk?: Uint8Array
  /** Only these peer ids may connect (both directions). */
  allowPeers?: ReadonlySet<string>
  /** Connections one remote host may open per second; many local nodes need more than 5. */
  inboundConnectionsPerSecond?: number
}

/**
 * Gossipsub checks a message's signature before it looks the message id up in its seen cache,
 * so in a small mesh where every message arrives once from each neighbour most of the signature
 * checks were for copies already delivered. This id, taken from the signed fields (author and
 * sequence number), lets a copy be dropped unchecked. Only messages that passed their check enter
 * the cache, so a forged copy cannot shadow the real one.
 */
export function fastMessageId(message: {
  from?: Uint8Array
  seqno?: Uint8Array
  data?: Uint8Array
}): string {
  const from = message.from ? Buffer.from(message.from).toString('base64') : ''
  const seqno = message.seqno ? Buffer.from(message.seqno).toString('base64') : ''
  return from === '' || seqno === ''
    ? `data:${createHash('sha256')
        .update(message.data ?? new Uint8Array())
        .digest('base64')}`
    : `${from}:${seqno}`
}

export type MeshHost = Awaited<ReturnType<typeof createMeshHost>>

export async function createMeshHost(init: MeshHostInit) {
  const allowed = init.allowPeers
  const deny = (peer: PeerId) => allowed !== undefined && !allowed.has(peer.toString())

  return createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: init.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    // A chunk is up to 4 MiB by default: a window that holds a whole chunk saves the round trips
    // of yamux window updates on every transfer (the default opens at 256 KiB).
    streamMuxers: [
      yamux({
        streamOptions: {
          initialStreamWindowSize: 4 * 1024 * 1024,
          maxStreamWindowSize: 16 * 1024 * 1024,
        },
      }),
    ],

    connectionProtector: init.psk ? preSharedKey({ psk: init.psk }) : undefined,
    connectionGater: {
      // Loopback and private addresses are where test meshes and build-site LANs live.
      denyDialMultiaddr: () => false,
      denyDialPeer: deny,
      denyInboundEncryptedConnection: deny,
      denyOutboundEncryptedConnection: deny,
    },
    connectionManager: {
      inboundConnectionThreshold: init.inboundConnectionsPerSecond ?? 100,
      maxIncomingPendingConnections: 64,
    },
    peerDiscovery:
      init.bootstrap && init.bootstrap.length > 0
        ? [bootstrap({ list: init.bootstrap, timeout: 100 })]
        : [],
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        maxInboundDataLength: 2 * 1024 * 1024,
        fastMsgIdFn: fastMessageId,
      }),
    },
  })
}
