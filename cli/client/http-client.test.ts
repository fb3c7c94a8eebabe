import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { isPressmeshError } from '../../protocol/errors.ts'
import {
  EXIT_AUTH,
  EXIT_BAD_INPUT,
  EXIT_FAILURE,
  EXIT_UNREACHABLE,
  exitCodeFor,
} from '../exit-codes.ts'
import { ApiError, CoordinatorUnreachableError } from './errors.ts'
import { CoordinatorClient } from './http-client.ts'

describe('the coordinator HTTP client', () => {
  let listener: RequestListener = (_req, res) => res.end()
  const server = createServer((req, res) => listener(req, res))
  let url = ''

  before(async () => {
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  after(() => {
    server.closeAllConnections()
    server.close()
  })

  const client = (init: { requestTimeoutMs?: number; maxResponseBytes?: number } = {}) =>
    new CoordinatorClient({ coordinator: url, token: 't', ...init })

  it('gives up on an answer that does not come in time (exit 6)', async () => {
    listener = () => {}

    await assert.rejects(client({ requestTimeoutMs: 100 }).listNodes(), (err: unknown) => {
      assert.ok(isPressmeshError(err, 'COORDINATOR_TIMEOUT'), String(err))
      assert.equal(exitCodeFor(err), EXIT_UNREACHABLE)
      return true
    })
  })

  it('refuses an answer larger than the bound, announced or not', async () => {
    const big = JSON.stringify({ nodes: [], padding: 'x'.repeat(4096) })
    const bounded = client({ maxResponseBytes: 1024 })

    listener = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': big.length })
      res.end(big)
    }
    await assert.rejects(bounded.listNodes(), /larger than 1024 bytes/)

    listener = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      for (let i = 0; i < 8; i++) {
        res.write(big.slice(i * 512, (i + 1) * 512))
      }
      res.end(big.slice(4096))
    }
    await assert.rejects(bounded.listNodes(), (err: unknown) => {
      assert.ok(isPressmeshError(err, 'API_BAD_RESPONSE'), String(err))
      assert.equal(exitCodeFor(err), EXIT_FAILURE)
      return true
    })
  })

  it('calls an answer that is not JSON a bad response', async () => {
    listener = (_req, res) => res.end('<html>proxy error</html>')

    await assert.rejects(client().listTokens(), (err: unknown) => {
      assert.ok(isPressmeshError(err, 'API_BAD_RESPONSE'))
      assert.match((err as Error).message, /GET \/api\/v1\/tokens is not JSON/)
      return true
    })
  })

  it('names the status of an error answer that is not an error document', async () => {
    listener = (_req, res) => {
      res.writeHead(502, 'Bad Gateway')
      res.end('upstream down')
    }

    await assert.rejects(client().cancelJob('job-1'), (err: unknown) => {
      assert.ok(err instanceof ApiError && err.status === 502 && err.code === 'HTTP_502')
      assert.match(err.message, /POST \/api\/v1\/jobs\/job-1\/cancel with 502 Bad Gateway/)
      return true
    })
  })

  it('refuses an event stream answer that is not text/event-stream', async () => {
    listener = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{}')
    }

    await assert.rejects(
      client().openEvents({ job: 'job-1' }, new AbortController().signal),
      (err: unknown) => isPressmeshError(err, 'API_BAD_RESPONSE'),
    )
  })

  it('sends the bearer token and the drain body', async () => {
    let seen: { authorization?: string; body?: string; url?: string } = {}
    const node = {
      peer: '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo',
      roles: ['production'],
      site: 'berlin',
      slots: 2,
      load: 0.5,
      freeDiskBytes: 1e9,
      version: '0.1.0',
      addrs: [],
      connected: true,
      alive: true,
      draining: true,
      lastSeen: 1,
      running: 1,
    }
    listener = async (req, res) => {
      let body = ''
      for await (const piece of req) {
        body += piece
      }
      seen = { authorization: req.headers.authorization, body, url: req.url }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ node }))
    }

    const answer = await client().drainNode(node.peer, true)
    assert.equal(answer.draining, true)
    assert.deepEqual(seen, {
      authorization: 'Bearer t',
      body: '{"drain":true}',
      url: `/api/v1/nodes/${node.peer}/drain`,
    })
  })
})

describe('the exit codes of coordinator errors', () => {
  it('tells refused tokens, bad requests, server faults and unreachable apart', () => {
    const codes = [401, 403, 400, 404, 409, 413, 500].map((status) =>
      exitCodeFor(new ApiError(status, 'X', 'x')),
    )

    assert.deepEqual(codes, [
      EXIT_AUTH,
      EXIT_AUTH,
      EXIT_BAD_INPUT,
      EXIT_BAD_INPUT,
      EXIT_BAD_INPUT,
      EXIT_BAD_INPUT,
      EXIT_FAILURE,
    ])
    assert.deepEqual([EXIT_AUTH, EXIT_UNREACHABLE], [3, 6])
    assert.equal(exitCodeFor(new CoordinatorUnreachableError('X', 'x')), EXIT_UNREACHABLE)
  })
})
