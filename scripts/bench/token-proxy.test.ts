import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { connect, createServer, type Server } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { pseudoRandomBytes } from '../../test/helpers/random.ts'
import { startTokenProxy } from './token-proxy.ts'

// The benchmark's capped origin: the bytes must pass unchanged, the cap must hold for all
// connections together, and a client that stops reading must stop the proxy reading upstream.

const MiB = 1024 * 1024
const payload = pseudoRandomBytes(4 * MiB, 7)
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

let server: Server
let port = 0

before(async () => {
  // Sends `payload` to every connection, then ends it.
  server = createServer((socket) => {
    socket.on('error', () => {})
    socket.end(payload)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as { port: number }).port
})

after(() => new Promise<void>((resolve) => server.close(() => resolve())))

function download(proxyPort: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const pieces: Buffer[] = []
    const socket = connect(proxyPort, '127.0.0.1')
    socket.on('data', (piece: Buffer) => pieces.push(piece))
    socket.on('end', () => resolve(Buffer.concat(pieces)))
    socket.on('error', reject)
  })
}

describe('token proxy', () => {
  it('passes every byte unchanged and counts them', async () => {
    const proxy = await startTokenProxy(port)
    try {
      const got = await Promise.all([download(proxy.port), download(proxy.port)])
      for (const bytes of got) {
        assert.equal(bytes.length, payload.length)
        assert.equal(sha256(bytes), sha256(payload))
      }
      assert.equal(proxy.bytesDown(), 2 * payload.length)
    } finally {
      await proxy.close()
    }
  })

  it('holds all connections together to the cap', async () => {
    const cap = 16 * MiB
    const proxy = await startTokenProxy(port, cap)
    try {
      const started = performance.now()
      const got = await Promise.all([1, 2, 3, 4].map(() => download(proxy.port)))
      const seconds = (performance.now() - started) / 1000

      for (const bytes of got) {
        assert.equal(sha256(bytes), sha256(payload))
      }
      // 16 MiB at 16 MiB/s, less the bucket's 0.1 s burst, and at most one 64 KiB piece of
      // debt per connection: never sooner than this, whatever the machine.
      const floor = (4 * payload.length - 0.1 * cap - 4 * 64 * 1024) / cap
      assert.ok(seconds >= floor, `done in ${seconds.toFixed(2)} s, the cap allows ${floor} s`)
      // A proxy that charged more than it sent would take far longer (one that charged an extra
      // piece per resumed connection took 1.85 s here); half as long again as the cap's time
      // leaves room for a busy machine, since at this rate the proxy waits on its timer, not on
      // the CPU.
      assert.ok(seconds < (1.5 * (4 * payload.length)) / cap, `took ${seconds.toFixed(2)} s`)
    } finally {
      await proxy.close()
    }
  })

  it('stops reading from the server while a client does not read', async () => {
    const big = createServer((socket) => {
      socket.on('error', () => {})
      let left = 64
      const more = () => {
        while (left > 0) {
          left--
          if (!socket.write(payload.subarray(0, MiB))) {
            socket.once('drain', more)
            return
          }
        }
        socket.end()
      }
      more()
    })
    await new Promise<void>((resolve) => big.listen(0, '127.0.0.1', resolve))
    const proxy = await startTokenProxy((big.address() as { port: number }).port)
    const client = connect(proxy.port, '127.0.0.1')
    client.pause()

    try {
      await new Promise((resolve) => setTimeout(resolve, 500))
      // Kernel buffers on both sides of the proxy hold a few MiB; without backpressure the proxy
      // would have read all 64 MiB by now.
      assert.ok(proxy.bytesDown() < 24 * MiB, `read ${proxy.bytesDown()} bytes upstream`)
    } finally {
      client.destroy()
      await proxy.close()
      await new Promise<void>((resolve) => big.close(() => resolve()))
    }
  })
})
