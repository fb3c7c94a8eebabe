import { connect, createServer, type Socket } from 'node:net'

// A TCP proxy in front of the storage server whose total downstream rate is capped by one token
// bucket shared by every connection: a storage server's uplink, not one connection's limit
// (nginx's limit_rate caps one connection only). It also counts the bytes it let through.

export interface TokenProxy {
  port: number
  bytesDown(): number
  close(): Promise<void>
}

/** Bytes the bucket may hand out at once: a tenth of a second at the cap. */
const BURST_SECONDS = 0.1

export async function startTokenProxy(
  targetPort: number,
  capBytesPerSecond?: number,
): Promise<TokenProxy> {
  let bytes = 0
  let freeAt = 0
  const sockets = new Set<Socket>()

  /** Milliseconds to wait before `n` more bytes may go out. */
  const reserve = (n: number): number => {
    if (capBytesPerSecond === undefined) {
      return 0
    }

    const now = performance.now()
    const start = Math.max(freeAt, now - BURST_SECONDS * 1000)
    freeAt = start + (n / capBytesPerSecond) * 1000
    return Math.max(0, freeAt - now - BURST_SECONDS * 1000)
  }

  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1')
    sockets.add(client)
    sockets.add(upstream)
    client.pipe(upstream)

    // Hands a piece on and stops reading from nginx until the client has taken it, so that a
    // slow client is pushed back on as a real uplink would push back, not buffered here.
    const forward = (piece: Buffer) => {
      if (!client.write(piece)) {
        upstream.pause()
        client.once('drain', () => upstream.resume())
      }
    }
    upstream.on('data', (piece: Buffer) => {
      bytes += piece.length
      const wait = reserve(piece.length)

      if (wait <= 0) {
        forward(piece)
        return
      }

      upstream.pause()
      setTimeout(() => {
        upstream.resume()
        forward(piece)
      }, wait)
    })
    upstream.on('end', () => client.end())
    const drop = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on('error', drop)
    upstream.on('error', drop)
    client.on('close', drop)
  })

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()

  return {
    port: typeof address === 'object' && address ? address.port : 0,
    bytesDown: () => bytes,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) {
          socket.destroy()
        }
        server.close(() => resolve())
      }),
  }
}
