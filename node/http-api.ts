import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { stream } from 'hono/streaming'
import { z } from 'zod'
import { errorMessage, isPressmeshError } from '../protocol/errors.ts'
import type { MeshNode } from './mesh-node.ts'

// A node's small HTTP endpoint: health, Prometheus metrics, a view of its peers, and a way to
// drive a fetch by hand (`pressmesh fetch`). It listens on loopback unless told otherwise.

const fetchBody = z.strictObject({ master: z.string().min(1).max(4096) })

export function nodeApp(node: MeshNode): Hono {
  const app = new Hono()

  app.get('/health', (c) =>
    c.json({
      status: 'ok',
      peerId: node.peerId,
      site: node.config.site,
      roles: node.config.roles,
      addresses: node.addresses(),
      store: node.store.stats(),
    }),
  )

  const reported = { memory: 0, disk: 0 }
  app.get('/metrics', async (c) => {
    const stats = node.store.stats()
    node.metrics.storeBytes.set(stats.bytes)
    node.metrics.storeChunks.set(stats.chunks)
    // The store counts its reads; the counters catch up with it at each scrape.
    node.metrics.storeReads.inc({ source: 'memory' }, stats.readsFromMemory - reported.memory)
    node.metrics.storeReads.inc({ source: 'disk' }, stats.readsFromDisk - reported.disk)
    reported.memory = stats.readsFromMemory
    reported.disk = stats.readsFromDisk
    return c.text(await node.metrics.registry.metrics(), 200, {
      'content-type': node.metrics.registry.contentType,
    })
  })

  app.get('/api/v1/peers', (c) =>
    c.json(
      [...node.view.peers()].map(([peer, presence]) => ({
        peer,
        connected: node.view.isConnected(peer),
        banned: node.view.isBanned(peer),
        ...presence,
      })),
    ),
  )

  // Answers newline-delimited JSON: progress lines, then one line with the result or the error.
  app.post('/api/v1/fetch', async (c) => {
    const parsed = fetchBody.safeParse(await c.req.json().catch(() => undefined))

    if (!parsed.success) {
      return c.json(
        { error: { code: 'BAD_REQUEST', message: 'body must be {"master": URL}' } },
        400,
      )
    }

    return stream(c, async (out) => {
      const controller = new AbortController()
      out.onAbort(() => controller.abort())

      try {
        const result = await node.materialize(parsed.data.master, {
          signal: controller.signal,
          onProgress: (progress) => void out.write(`${JSON.stringify({ progress })}\n`),
        })
        const done = { done: true, manifest: result.manifest.id, report: result.report }
        await out.write(`${JSON.stringify(done)}\n`)
      } catch (err) {
        const code = isPressmeshError(err) ? err.code : 'FETCH_FAILED'
        await out.write(`${JSON.stringify({ error: { code, message: errorMessage(err) } })}\n`)
      }
    })
  })

  app.notFound((c) => c.json({ error: { code: 'NOT_FOUND', message: 'no such route' } }, 404))
  return app
}

export function serveNodeApp(node: MeshNode, port: number, hostname = '127.0.0.1') {
  return new Promise<ReturnType<typeof serve>>((resolve) => {
    const server = serve({ fetch: nodeApp(node).fetch, port, hostname }, () => resolve(server))
  })
}
