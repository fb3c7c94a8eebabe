import { connect, createServer, type Socket } from 'node:net'

// A TCP proxy in front of the storage server whose total downstream rate is capped by one token
// bucket shared by every connection: a storage server's uplink, not one connection's limit
// (nginx's limit_rate caps one connection only). It also counts the bytes it let through.
//
// The proxy shares the machine's cores with the systems it serves, so it is built to cost
// little per byte: a piece from nginx is handed on at once and paid for from the bucket, which
// may go into debt by that piece; a connection that finds the bucket in debt stops reading, and
// a refill tick, run only while someone waits, lets the waiting connections read again in turn
// once the debt is paid. So a connection pauses about once per tick at the cap, not once per
// piece, and the rate over any second stays within one piece per connection of the cap.

export interface TokenProxy {
  port: number
  bytesDown(): number
  close(): Promise<void>
}

/** Bytes the bucket may hold when nobody draws on it: a tenth of a second at the cap. */
const BURST_SECONDS = 0.1
/** How often the bucket is refilled while connections wait for it. */
const TICK_MS = 10

interface Flow {
  upstream: Socket
  /** Stopped reading because the bucket is in debt. */
  starved: boolean
  /** Stopped reading because the client has not taken what it was sent. */
  blocked: boolean
}

export async function startTokenProxy(
  targetPort: number,
  capBytesPerSecond?: number,
): Promise<TokenProxy> {
  let bytes = 0
  const sockets = new Set<Socket>()
  const burst = capBytesPerSecond === undefined ? 0 : capBytesPerSecond * BURST_SECONDS
  let tokens = burst
  let filledAt = performance.now()
  const waiting: Flow[] = []
  let ticker: NodeJS.Timeout | undefined

  const refill = () => {
    const now = performance.now()
    tokens = Math.min(burst, tokens + ((now - filledAt) / 1000) * (capBytesPerSecond ?? 0))
    filledAt = now
  }

  const resumeIfFree = (flow: Flow) => {
    if (!flow.starved && !flow.blocked) {
      flow.upstream.resume()
    }
  }

  const tick = () => {
    refill()
    if (tokens > 0) {
      for (const flow of waiting.splice(0)) {
        flow.starved = false
        resumeIfFree(flow)
      }
    }
    if (waiting.length === 0) {
      clearInterval(ticker)
      ticker = undefined
    }
  }

  const starve = (flow: Flow) => {
    flow.starved = true
    flow.upstream.pause()
    waiting.push(flow)
    ticker ??= setInterval(tick, TICK_MS)
  }

  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1')
    const flow: Flow = { upstream, starved: false, blocked: false }
    sockets.add(client)
    sockets.add(upstream)
    client.pipe(upstream)

    // A slow client pushes back on nginx as a real uplink would, instead of being buffered here.
    client.on('drain', () => {
      flow.blocked = false
      resumeIfFree(flow)
    })

    upstream.on('data', (piece: Buffer) => {
      bytes += piece.length

      if (capBytesPerSecond !== undefined) {
        refill()
        tokens -= piece.length
      }

      if (!client.write(piece)) {
        flow.blocked = true
        upstream.pause()
      }

      if (capBytesPerSecond !== undefined && tokens < 0 && !flow.starved) {
        starve(flow)
      }
    })
    upstream.on('end', () => client.end())
    const drop = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
      const at = waiting.indexOf(flow)
      if (at >= 0) {
        waiting.splice(at, 1)
      }
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
        clearInterval(ticker)
        for (const socket of sockets) {
          socket.destroy()
        }
        server.close(() => resolve())
      }),
  }
}
