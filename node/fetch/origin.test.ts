import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { startNginx } from '../../test/helpers/nginx.ts'
import { pseudoRandomBytes } from '../../test/helpers/random.ts'
import { tempDir } from '../../test/helpers/temp.ts'
import { openOrigin } from './origin.ts'

const MASTER = pseudoRandomBytes(3 * 1024 * 1024 + 17, 5)

async function nginxWithMaster(t: TestContext) {
  const dir = await tempDir(t)
  await mkdir(join(dir, 'www'))
  await writeFile(join(dir, 'www', 'setup.bin'), MASTER)
  const nginx = await startNginx({ root: join(dir, 'www'), dir: join(dir, 'nginx') })
  t.after(() => nginx.stop())
  return nginx
}

/** A small HTTP server that answers every request with `handler`, on a free loopback port. */
async function serve(
  t: TestContext,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<string> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => server.close(resolve)))
  server.closeIdleConnections()
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function joined(pieces: Uint8Array[]): Buffer {
  return Buffer.concat(pieces)
}

describe('an HTTP storage server', () => {
  it('gives byte ranges of a master exactly, in the pieces they arrived in', async (t) => {
    const nginx = await nginxWithMaster(t)
    const origin = openOrigin(`${nginx.url}/setup.bin`)
    let counted = 0
    const counting = openOrigin(`${nginx.url}/setup.bin`, { onBytes: (n) => (counted += n) })

    for (const [offset, length] of [
      [0, 1],
      [1_000_000, 2_000_000],
      [MASTER.length - 17, 17],
    ]) {
      const pieces = await origin.readRange('setup.bin', offset, length)
      assert.ok(joined(pieces).equals(MASTER.subarray(offset, offset + length)))
    }

    await counting.readRange('setup.bin', 0, 65_536)
    assert.equal(counted, 65_536)
  })

  it('follows redirects to the storage server that holds the master', async (t) => {
    const nginx = await nginxWithMaster(t)
    const redirecting = await serve(t, (req, res) => {
      res.writeHead(302, { location: `${nginx.url}${req.url}` }).end()
    })

    const pieces = await openOrigin(`${redirecting}/setup.bin`).readRange('setup.bin', 10, 100)
    assert.ok(joined(pieces).equals(MASTER.subarray(10, 110)))
  })

  it('names what went wrong: missing, no ranges, short, long, redirected in a loop', async (t) => {
    const nginx = await nginxWithMaster(t)
    await assert.rejects(openOrigin(`${nginx.url}/gone.bin`).readRange('gone.bin', 0, 10), {
      code: 'ORIGIN_NOT_FOUND',
    })

    const whole = await serve(t, (_req, res) => res.end(MASTER.subarray(0, 1000)))
    await assert.rejects(openOrigin(`${whole}/m.bin`).readRange('m.bin', 0, 10), {
      code: 'ORIGIN_NO_RANGE',
    })

    const short = await serve(t, (_req, res) => res.writeHead(206).end(Buffer.alloc(5)))
    await assert.rejects(openOrigin(`${short}/m.bin`).readRange('m.bin', 0, 10), {
      code: 'ORIGIN_SHORT_READ',
    })

    const long = await serve(t, (_req, res) => res.writeHead(206).end(Buffer.alloc(50)))
    await assert.rejects(openOrigin(`${long}/m.bin`).readRange('m.bin', 0, 10), {
      code: 'ORIGIN_TOO_LARGE',
    })

    const loop = await serve(t, (req, res) => res.writeHead(301, { location: req.url }).end())
    await assert.rejects(openOrigin(`${loop}/m.bin`).readRange('m.bin', 0, 10), {
      code: 'ORIGIN_HTTP',
    })
  })

  it('is unreachable when nothing listens, and a read can be aborted', async (t) => {
    const nginx = await nginxWithMaster(t)
    const origin = openOrigin(`${nginx.url}/setup.bin`)
    const stopped = new AbortController()
    stopped.abort()
    await assert.rejects(origin.readRange('setup.bin', 0, 10, stopped.signal), {
      code: 'ORIGIN_UNREACHABLE',
    })

    await nginx.stop()
    await assert.rejects(origin.readRange('setup.bin', 0, 10), { code: 'ORIGIN_UNREACHABLE' })
    assert.equal(
      await openOrigin(`${nginx.url}/setup.bin`)
        .manifestBeside()
        .catch((e) => e.code),
      'ORIGIN_UNREACHABLE',
    )
  })
})
