import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { FileEntry, Manifest } from '../../../protocol/manifest.ts'
import { extractAndCompare } from '../../../test/helpers/media-judges.ts'
import {
  awkwardTree,
  indexTree,
  TREE_TIME,
  tool,
  writeMediumFile,
} from '../../../test/helpers/media.ts'
import { tempDir } from '../../../test/helpers/temp.ts'
import type { MediumFile, MediumInput } from '../medium.ts'
import { tarMedium } from './index.ts'

async function sha256Of(file: MediumFile): Promise<string> {
  const hash = createHash('sha256')
  for await (const bytes of file.bytes()) {
    hash.update(bytes)
  }

  return hash.digest('hex')
}

describe('the tar medium', () => {
  it('extracts with GNU tar and bsdtar identical to the source, links and modes too', async (t) => {
    const dir = await tempDir(t)
    const source = join(dir, 'product-1.0')
    await awkwardTree(source, { symlinks: true })
    const { input } = await indexTree(t, source)
    const medium = tarMedium(input, { name: 'product-1.0' })
    const archive = join(dir, medium.files[0].name)

    const written = await writeMediumFile(medium.files[0], archive)

    assert.equal(medium.files[0].name, 'product-1.0.tar')
    assert.equal(written, medium.files[0].size, 'the announced size is the size written')
    await extractAndCompare(archive, source, dir)
  })

  it('extracts the same when gzipped, and announces no size', async (t) => {
    const dir = await tempDir(t)
    const source = join(dir, 'src')
    await awkwardTree(source, { symlinks: true })
    const { input } = await indexTree(t, source)
    const medium = tarMedium(input, { name: 'product', gzip: true })
    const archive = join(dir, medium.files[0].name)

    await writeMediumFile(medium.files[0], archive)

    assert.equal(medium.files[0].name, 'product.tar.gz')
    assert.equal(medium.files[0].size, undefined)
    assert.equal(tool('gzip', ['-t', archive], 'gzip').code, 0)
    await extractAndCompare(archive, source, dir)
  })

  it('gives the same bytes on every write, plain and gzipped', async (t) => {
    const dir = await tempDir(t)
    const source = join(dir, 'src')
    await awkwardTree(source, { symlinks: true })
    const { input } = await indexTree(t, source)

    for (const gzip of [false, true]) {
      const first = await sha256Of(tarMedium(input, { name: 'a', gzip }).files[0])
      const second = await sha256Of(tarMedium(input, { name: 'a', gzip }).files[0])
      assert.equal(first, second, gzip ? 'tar.gz' : 'tar')
    }
  })

  it('records a file over 8 GiB in a pax size record that GNU tar and bsdtar read', async (t) => {
    const dir = await tempDir(t)
    const size = 9 * 2 ** 30 + 5
    const entry: FileEntry = {
      type: 'file',
      path: 'disc.bin',
      mode: 0o644,
      mtime: TREE_TIME,
      size,
      blake3: '0'.repeat(64),
      sha256: '0'.repeat(64),
      chunks: [],
    }
    const manifest = { version: 1, files: [entry] } as unknown as Manifest
    const input: MediumInput = {
      manifest,
      meta: { volumeId: 'BIG', date: TREE_TIME },
      source: {
        async *read() {
          const block = Buffer.alloc(1024 * 1024, 0x5a)
          for (let sent = 0; sent < size; sent += block.length) {
            yield block.subarray(0, Math.min(block.length, size - sent))
          }
        },
      },
    }
    const medium = tarMedium(input, { name: 'big' })
    const prefix: Buffer[] = []
    let taken = 0

    // Only the headers and the first MiB: the rest is the same byte over and over.
    for await (const bytes of medium.files[0].bytes()) {
      prefix.push(Buffer.from(bytes))
      taken += bytes.length
      if (taken >= 1024 * 1024) break
    }

    const head = Buffer.concat(prefix)
    assert.equal(medium.files[0].size, 3 * 512 + Math.ceil(size / 512) * 512 + 1024)
    assert.equal(String.fromCharCode(head[156]), 'x', 'a pax extended header comes first')
    assert.match(
      head.subarray(512, 1024).toString('latin1'),
      /^\d+ path=disc\.bin\n\d+ size=9663676421\n/,
    )
    const main = head.subarray(1024, 1536)
    assert.equal(main.toString('latin1', 124, 136), '00000000000 ', 'octal zero, not base-256')
    await writeFile(join(dir, 'head.tar'), head)
    const listing = tool('tar', ['-tvf', join(dir, 'head.tar')], 'tar')
    assert.match(listing.stdout, /^-rw-r--r-- 0\/0 +9663676421 2023-11-14 \d\d:\d\d disc\.bin$/m)
    const bsd = tool('bsdtar', ['-tvf', join(dir, 'head.tar')], 'libarchive-tools')
    assert.match(bsd.stdout, /^-rw-r--r-- +0 0 +0 +9663676421 Nov 14 +2023 disc\.bin$/m)
  })
})
