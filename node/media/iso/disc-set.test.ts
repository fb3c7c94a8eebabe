import assert from 'node:assert/strict'
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { chunkerParams } from '../../../protocol/chunker/params.ts'
import { type FileEntry, MANIFEST_VERSION, type ManifestEntry } from '../../../protocol/manifest.ts'
import {
  assertSameTree,
  bsdtarExtract,
  META,
  pycdlibOpen,
  storedMaster,
  writeMediumFile,
  xorrisoExtract,
} from '../../../test/helpers/iso-judges.ts'
import { pseudoRandomBytes } from '../../../test/helpers/random.ts'
import { tempDir } from '../../../test/helpers/temp.ts'
import type { ContentSource, MediumInput } from '../medium.ts'
import { DISC_SECTORS, isoMedium } from './index.ts'
import { isoMediumWith } from './iso-medium.ts'

const MiB = 1024 * 1024
const CHUNK = 4 * MiB

/** A file entry whose chunks are never read: enough to lay an image out. */
function bigFile(path: string, size: number): FileEntry {
  const chunks = []
  for (let left = size, i = 0; left > 0; left -= CHUNK, i++) {
    chunks.push({ id: i.toString(16).padStart(64, '0'), size: Math.min(CHUNK, left) })
  }

  return {
    type: 'file',
    path,
    mode: 0o644,
    mtime: META.date,
    size,
    blake3: '0'.repeat(64),
    sha256: '0'.repeat(64),
    chunks,
  }
}

function folder(path: string): ManifestEntry {
  return { type: 'directory', path, mode: 0o755, mtime: META.date }
}

/** Every path below a folder, relative and sorted. */
async function listPaths(root: string): Promise<string[]> {
  return (await readdir(root, { recursive: true })).sort()
}

const unread: ContentSource = {
  read: () => {
    throw new Error('this test lays images out only')
  },
}

function layoutOnly(files: ManifestEntry[]): MediumInput {
  return {
    manifest: { version: MANIFEST_VERSION, chunker: chunkerParams(), files },
    source: unread,
    meta: META,
  }
}

describe('ISO disc sets', () => {
  it('spread a master over discs that each fit, every file on exactly one disc', async (t) => {
    const root = await tempDir(t)
    const work = await tempDir(t)
    await mkdir(join(root, 'tools', 'bin'), { recursive: true })
    await mkdir(join(root, 'data', 'empty'), { recursive: true })

    for (let i = 0; i < 8; i++) {
      const where =
        i % 2 === 0 ? join(root, 'data', `part-${i}.bin`) : join(root, 'tools', 'bin', `tool-${i}`)
      await writeFile(where, pseudoRandomBytes(200 * 1024 + i, i + 1))
    }

    await writeFile(join(root, 'readme.txt'), 'read me\n')
    await symlink('data/part-0.bin', join(root, 'first-part'))
    const input = await storedMaster(t, root)
    const capacitySectors = 300

    const medium = isoMediumWith(input, { name: 'set' }, { capacitySectors })
    const images = medium.files.filter((file) => file.name.endsWith('.iso'))
    const index = medium.files.find((file) => file.name === 'set-discs.json')!

    assert.ok(images.length >= 3, `${images.length} discs`)
    assert.deepEqual(
      images.map((file) => file.name),
      images.map((_, i) => `set-disc${i + 1}.iso`),
    )

    const merged = join(work, 'merged')
    await mkdir(merged)

    for (const image of images) {
      const path = join(work, image.name)
      const written = await writeMediumFile(image, path)
      assert.equal(written, image.size)
      assert.ok(written <= capacitySectors * 2048, `${image.name} is ${written} bytes`)
      assert.equal((await pycdlibOpen(path)).joliet, true)
      await bsdtarExtract(path, merged)
    }

    await assertSameTree(root, merged)

    const chunks: Uint8Array[] = []
    for await (const bytes of index.bytes()) {
      chunks.push(bytes)
    }

    const setIndex = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    const folders = new Set(
      input.manifest.files.filter((e) => e.type === 'directory').map((e) => e.path),
    )
    const placed = setIndex.discs.flatMap((disc: { paths: string[] }) =>
      disc.paths.filter((p) => !folders.has(p)),
    )
    const expected = input.manifest.files.filter((e) => e.type !== 'directory').map((e) => e.path)

    assert.deepEqual([...placed].sort(), [...expected].sort())
    assert.equal(new Set(placed).size, placed.length)
    assert.deepEqual(
      setIndex.discs.map((disc: { file: string; bytes: number }) => [disc.file, disc.bytes]),
      images.map((image) => [image.name, image.size]),
    )
    assert.ok(setIndex.discs.some((disc: { paths: string[] }) => disc.paths.includes('data/empty')))

    const first = join(work, 'first')
    await mkdir(first)
    await xorrisoExtract(join(work, images[0].name), first)
    assert.deepEqual(await listPaths(first), [...setIndex.discs[0].paths].sort())
  })

  it('fit the named disc sizes, first fit in path order', () => {
    const input = layoutOnly([
      folder('media'),
      bigFile('media/a.bin', 300_000_000),
      bigFile('media/b.bin', 300_000_000),
      bigFile('media/c.bin', 300_000_000),
      bigFile('small.txt', 10),
    ])

    const medium = isoMedium(input, { name: 'p', disc: 'cd700' })
    const sizes = medium.files
      .filter((file) => file.name.endsWith('.iso'))
      .map((file) => file.size!)

    assert.equal(DISC_SECTORS.cd700 * 2048, 737_280_000)
    assert.equal(DISC_SECTORS.dvd5 * 2048, 4_700_372_992)
    assert.equal(DISC_SECTORS.dvd9 * 2048, 8_547_991_552)
    assert.equal(DISC_SECTORS.bd25 * 2048, 25_025_314_816)
    assert.equal(sizes.length, 2)
    assert.ok(sizes.every((size) => size <= 737_280_000))
    assert.ok(sizes[0] > 600_000_000, 'a and b share the first disc')
  })

  it('refuse a file larger than the disc, naming it and the smallest disc that holds it', () => {
    const input = layoutOnly([folder('media'), bigFile('media/huge.bin', 800_000_000)])

    assert.throws(
      () => isoMedium(input, { name: 'p', disc: 'cd700' }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ISO_FILE_TOO_LARGE_FOR_DISC')
        assert.match(err.message, /media\/huge\.bin/)
        assert.match(err.message, /dvd5/)
        return true
      },
    )
  })

  it('give a single image when the master fits one disc', () => {
    const medium = isoMedium(layoutOnly([bigFile('setup.exe', 5 * MiB)]), {
      name: 'one',
      disc: 'dvd5',
    })

    assert.deepEqual(
      medium.files.map((file) => file.name),
      ['one.iso'],
    )
  })
})
