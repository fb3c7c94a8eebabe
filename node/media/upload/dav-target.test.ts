import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import { tool } from '../../../test/helpers/media.ts'
import { startDavServer } from '../../../test/helpers/dav-server.ts'
import { pseudoRandomBytes } from '../../../test/helpers/random.ts'
import type { MediumFile } from '../medium.ts'
import { publishMedium } from '../publish.ts'
import { davTarget } from './dav-target.ts'

const FAST_RETRY = { attempts: 6, baseDelayMs: 100, maxDelayMs: 800 }

/** A medium file that sends `bytes` in 64 KiB pieces, optionally pausing or failing part-way. */
function pacedFile(
  name: string,
  bytes: Buffer,
  options: { pauseMs?: number; failAfter?: number; size?: boolean } = {},
): MediumFile & { starts: number } {
  const file = {
    name,
    size: options.size === false ? undefined : bytes.length,
    starts: 0,
    async *bytes() {
      file.starts++

      for (let at = 0; at < bytes.length; at += 65536) {
        if (options.failAfter !== undefined && at >= options.failAfter) {
          throw new Error('the chunk store went away')
        }

        if (options.pauseMs) {
          await sleep(options.pauseMs)
        }

        yield bytes.subarray(at, at + 65536)
      }
    },
  }

  return file
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

describe('uploading media to a WebDAV server', () => {
  it('delivers a medium intact, with sums that sha256sum -c accepts on the server', async (t) => {
    const nginx = await startDavServer(t)
    const known = pseudoRandomBytes(5 * 1024 * 1024 + 17, 3)
    const unknown = pseudoRandomBytes(1024 * 1024 + 3, 4)
    const target = davTarget({ url: `${nginx.url}releases/product-1.0`, retry: FAST_RETRY })

    const result = await publishMedium(
      {
        kind: 'tar',
        files: [pacedFile('a.tar', known), pacedFile('b.tar.gz', unknown, { size: false })],
      },
      target,
    )

    const folder = join(nginx.root, 'releases', 'product-1.0')
    assert.deepEqual((await readdir(folder)).sort(), [
      'BLAKE3SUMS',
      'SHA256SUMS',
      'a.tar',
      'b.tar.gz',
    ])
    assert.equal(sha256(await readFile(join(folder, 'a.tar'))), sha256(known))
    assert.equal(result.files[1].sha256, sha256(unknown))
    const check = tool('sha256sum', ['-c', 'SHA256SUMS'], 'coreutils', { cwd: folder })
    assert.equal(check.stdout, 'a.tar: OK\nb.tar.gz: OK\n')
  })

  it('leaves nothing behind when the source fails part-way, and does not retry', async (t) => {
    const nginx = await startDavServer(t)
    const file = pacedFile('broken.img', pseudoRandomBytes(4 * 1024 * 1024, 5), {
      failAfter: 2 * 1024 * 1024,
    })
    const target = davTarget({ url: nginx.url, retry: FAST_RETRY })

    await assert.rejects(target.store(file), /the chunk store went away/)

    assert.equal(file.starts, 1)
    assert.deepEqual(await readdir(nginx.root), [])
  })

  it('survives nginx stopping mid-upload: nothing under the name, then a retry wins', async (t) => {
    const nginx = await startDavServer(t)
    const bytes = pseudoRandomBytes(6 * 1024 * 1024, 6)
    const file = pacedFile('disc.iso', bytes, { pauseMs: 2 })
    const target = davTarget({ url: nginx.url, retry: FAST_RETRY })
    let sent = 0
    let outage: Promise<void> | undefined

    const upload = target.store(file, {
      onBytes: (count) => {
        sent += count

        if (outage === undefined && sent >= 1024 * 1024) {
          outage = (async () => {
            await nginx.stop()
            assert.deepEqual(await readdir(nginx.root), [], 'nothing while the server is down')
            await sleep(300)
            await nginx.start()
          })()
        }
      },
    })

    const digest = await upload
    await outage

    assert.ok(file.starts >= 2, `the upload was retried (${file.starts} starts)`)
    assert.equal(digest.sha256, sha256(bytes))
    assert.deepEqual(await readdir(nginx.root), ['disc.iso'])
    assert.equal(sha256(await readFile(join(nginx.root, 'disc.iso'))), sha256(bytes))
  })
})
