import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, open, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { isPressmeshError } from '../../../protocol/errors.ts'
import type { FileEntry, Manifest } from '../../../protocol/manifest.ts'
import { assertCopiesOut, assertFsckClean } from '../../../test/helpers/media-judges.ts'
import {
  awkwardTree,
  indexTree,
  setTimes,
  TREE_TIME,
  tool,
  writeMediumFile,
} from '../../../test/helpers/media.ts'
import { pseudoRandomBytes } from '../../../test/helpers/random.ts'
import { tempDir } from '../../../test/helpers/temp.ts'
import type { MediumInput } from '../medium.ts'
import { imgMedium, planImage } from './index.ts'

function fatType(head: Buffer): string {
  return head.toString('ascii', 82, 90).trim() === 'FAT32'
    ? 'FAT32'
    : head.toString('ascii', 54, 62).trim()
}

async function readHead(path: string, at = 0): Promise<Buffer> {
  const handle = await open(path, 'r')
  const head = Buffer.alloc(512)
  await handle.read(head, 0, 512, at)
  await handle.close()
  return head
}

describe('the img medium', () => {
  it('passes fsck.fat as FAT16 and copies out identical with mtools, links left out', async (t) => {
    const dir = await tempDir(t)
    const source = join(dir, 'src')
    await awkwardTree(source, { symlinks: true })
    const { input } = await indexTree(t, source, 'Product 1.0/beta')
    const medium = imgMedium(input, { name: 'product-1.0' })
    const image = join(dir, medium.files[0].name)
    const out = join(dir, 'out')
    await mkdir(out)

    assert.equal(await writeMediumFile(medium.files[0], image), medium.files[0].size)

    assertFsckClean(image)
    assertCopiesOut(image, source, out, ['core-link', 'setup-link'])
    assert.equal(existsSync(join(out, 'core-link')), false)
    assert.equal(existsSync(join(out, 'data', 'setup-link')), false)
    assert.equal(fatType(await readHead(image)), 'FAT16')

    const label = tool('mlabel', ['-s', '-i', image, '::'], 'mtools')
    assert.equal(label.stdout.trim(), 'Volume label is PRODUCT 1_0')
  })

  it('is FAT32 for a 300 MiB file and copies out identical', async (t) => {
    const dir = await tempDir(t)
    const source = join(dir, 'src')
    const block = pseudoRandomBytes(4 * 1024 * 1024, 7)
    await mkdir(source)
    // 300 MiB of a repeating 4 MiB block: the chunk store keeps only a few MiB of it.
    const handle = await open(join(source, 'disc.bin'), 'w')
    for (let i = 0; i < 75; i++) {
      await handle.write(block)
    }
    await handle.close()
    await writeFile(join(source, 'small.txt'), 'small\n')
    await setTimes(source)
    const { input, store } = await indexTree(t, source)
    const medium = imgMedium(input, { name: 'big' })
    const image = join(dir, 'big.img')
    const out = join(dir, 'out')
    await mkdir(out)

    assert.ok(store.stats().bytes < 64 * 1024 * 1024, 'the store holds the repeats once')
    assert.equal(await writeMediumFile(medium.files[0], image), medium.files[0].size)

    assertFsckClean(image)
    assert.equal(fatType(await readHead(image)), 'FAT32')
    assertCopiesOut(image, source, out)
  })

  it('puts the volume in one 1 MiB-aligned MBR partition that the tools accept', async (t) => {
    const dir = await tempDir(t)
    const source = join(dir, 'src')
    await awkwardTree(source)
    const { input } = await indexTree(t, source)
    const medium = imgMedium(input, { name: 'disk', mbr: true })
    const image = join(dir, 'disk.img')
    const out = join(dir, 'out')
    await mkdir(out)

    assert.equal(await writeMediumFile(medium.files[0], image), medium.files[0].size)
    assert.equal(medium.files[0].size! % (1024 * 1024), 0)

    const table = tool('sfdisk', ['-J', image], 'fdisk')
    assert.equal(table.code, 0, table.stderr)
    const [partition, ...others] = JSON.parse(table.stdout).partitiontable.partitions
    assert.equal(others.length, 0)
    assert.equal(partition.start, 2048)
    assert.equal(partition.type, 'e')

    const volume = join(dir, 'volume.img')
    const cut = tool(
      'dd',
      [
        `if=${image}`,
        `of=${volume}`,
        'bs=512',
        `skip=${partition.start}`,
        `count=${partition.size}`,
      ],
      'coreutils',
    )
    assert.equal(cut.code, 0, cut.stderr)
    assertFsckClean(volume)
    assertCopiesOut(`${image}@@${partition.start * 512}`, source, out)
  })

  it('gives the same bytes on every write', async (t) => {
    const dir = await tempDir(t)
    const source = join(dir, 'src')
    await awkwardTree(source, { symlinks: true })
    const { input } = await indexTree(t, source)
    const sums: string[] = []

    for (const name of ['first.img', 'second.img']) {
      await writeMediumFile(imgMedium(input, { name: 'x', mbr: true }).files[0], join(dir, name))
      sums.push(
        createHash('sha256')
          .update(await readFile(join(dir, name)))
          .digest('hex'),
      )
    }

    assert.equal(sums[0], sums[1])
  })

  it('refuses a file of 4 GiB, naming it, before writing anything', () => {
    const entry: FileEntry = {
      type: 'file',
      path: 'data/huge.bin',
      mode: 0o644,
      mtime: TREE_TIME,
      size: 2 ** 32,
      blake3: '0'.repeat(64),
      sha256: '0'.repeat(64),
      chunks: [],
    }
    const folder = { type: 'directory' as const, path: 'data', mode: 0o755, mtime: TREE_TIME }
    const input: MediumInput = {
      manifest: { version: 1, files: [folder, entry] } as unknown as Manifest,
      meta: { volumeId: 'HUGE', date: TREE_TIME },
      source: { read: () => assert.fail('nothing should be read') },
    }

    assert.throws(
      () => imgMedium(input, { name: 'huge' }),
      (err) => isPressmeshError(err, 'IMG_FILE_TOO_LARGE') && err.message.includes('data/huge.bin'),
    )
  })

  it('refuses names that differ only in case, which FAT cannot tell apart', () => {
    const file = (path: string): FileEntry => ({
      type: 'file',
      path,
      mode: 0o644,
      mtime: TREE_TIME,
      size: 0,
      blake3: '0'.repeat(64),
      sha256: '0'.repeat(64),
      chunks: [],
    })
    const input: MediumInput = {
      manifest: {
        version: 1,
        files: [file('README.txt'), file('readme.txt')],
      } as unknown as Manifest,
      meta: { volumeId: 'CASE', date: TREE_TIME },
      source: { read: () => assert.fail('nothing should be read') },
    }

    assert.throws(
      () => planImage(input, { name: 'case' }),
      (err) => isPressmeshError(err, 'IMG_NAME_CONFLICT'),
    )
  })
})
