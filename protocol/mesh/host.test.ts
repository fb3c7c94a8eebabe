import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createMeshHost, type MeshHost } from './host.ts'
import { generatePsk } from './keys.ts'

async function host(options: { psk?: string; allow?: string[] } = {}): Promise<MeshHost> {
  return createMeshHost({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    psk: options.psk ? Buffer.from(options.psk) : undefined,
    allowPeers: options.allow ? new Set(options.allow) : undefined,
  })
}

describe('the mesh host', () => {
  it('connects two hosts that share a network key', async (t) => {
    const psk = generatePsk()
    const [a, b] = [await host({ psk }), await host({ psk })]
    t.after(() => Promise.all([a.stop(), b.stop()]))

    await b.dial(a.getMultiaddrs()[0])
    assert.equal(b.getConnections(a.peerId).length, 1)
  })

  it('refuses a host with another network key, and one with none', async (t) => {
    const [a, b, c] = [
      await host({ psk: generatePsk() }),
      await host({ psk: generatePsk() }),
      await host(),
    ]
    t.after(() => Promise.all([a.stop(), b.stop(), c.stop()]))

    await assert.rejects(b.dial(a.getMultiaddrs()[0], { signal: AbortSignal.timeout(5_000) }))
    await assert.rejects(c.dial(a.getMultiaddrs()[0], { signal: AbortSignal.timeout(5_000) }))
    assert.equal(a.getConnections().length, 0)
  })

  it('lets in only the peer ids on its allow-list', async (t) => {
    const friendKey = await generateKeyPair('Ed25519')
    const friend = await createMeshHost({ privateKey: friendKey, listen: ['/ip4/127.0.0.1/tcp/0'] })
    const stranger = await host()
    const guarded = await host({ allow: [friend.peerId.toString()] })
    t.after(() => Promise.all([friend.stop(), stranger.stop(), guarded.stop()]))

    await friend.dial(guarded.getMultiaddrs()[0])
    assert.equal(friend.getConnections(guarded.peerId).length, 1)

    // The guarded side drops the stranger during the handshake; the stranger may briefly think it
    // connected, but nothing gets through.
    await stranger.dial(guarded.getMultiaddrs()[0]).catch(() => undefined)
    await assert.rejects(
      stranger.services.ping.ping(guarded.getMultiaddrs()[0], {
        signal: AbortSignal.timeout(3_000),
      }),
    )
    assert.equal(guarded.getConnections(stranger.peerId).length, 0)
  })
})
