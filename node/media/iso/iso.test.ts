import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { chmod, mkdir, readlink, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import {
  assertSameTree,
  bsdtarExtract,
  isoinfoDescribe,
  pycdlibOpen,
  sevenZipTest,
  storedMaster,
  writeMediumFile,
  xorrisoExtract,
} from '../../../test/helpers/iso-judges.ts'
import { pseudoRandomBytes } from '../../../test/helpers/random.ts'
import { tempDir } from '../../../test/helpers/temp.ts'
import { isoMedium } from './index.ts'

/** A master with the awkward cases: Unicode, long names, deep folders, links, empty things. */
async function awkwardMaster(root: string): Promise<void> {
  const deep = join(root, 'deep', ...'abcdefghijklmnopqrst'.split(''))
  await mkdir(deep, { recursive: true })
  await writeFile(join(deep, 'bottom.txt'), 'twenty levels down\n')
  await writeFile(join(root, 'deep', ...'abcdefghij'.split(''), 'middle.txt'), 'ten levels\n')
  await writeFile(join(root, 'deep', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'level8.txt'), 'eight\n')
  await mkdir(join(root, 'empty folder'))
  await mkdir(join(root, 'Ünïcødé 名前 フォルダ'))
  await writeFile(join(root, 'Ünïcødé 名前 フォルダ', 'ファイル 🎉.txt'), 'unicode\n')
  await writeFile(join(root, 'empty.txt'), '')
  await writeFile(join(root, 'data.bin'), pseudoRandomBytes(3 * 1024 * 1024 + 17, 3))
  await writeFile(join(root, `${'long name '.repeat(11)}end.txt`), 'hundred and more\n')
  await writeFile(join(root, `${'é'.repeat(120)}.txt`), 'two hundred and forty bytes\n')
  await writeFile(join(root, `${'x'.repeat(70)}-one.txt`), 'one\n')
  await writeFile(join(root, `${'x'.repeat(70)}-two.txt`), 'two\n')
  await writeFile(join(root, 'script.sh'), '#!/bin/sh\n')
  await chmod(join(root, 'script.sh'), 0o755)
  await writeFile(join(root, 'secret.key'), 'key\n')
  await chmod(join(root, 'secret.key'), 0o600)
  await symlink('data.bin', join(root, 'link-to-data'))
  await symlink('/usr/share/doc', join(root, 'absolute-link'))
  await symlink('../missing/target', join(root, 'dangling-link'))
  await symlink(`${'../'.repeat(4)}${'segment/'.repeat(40)}end`, join(root, 'long-link'))
  await symlink(`${'component/'.repeat(70)}${'y'.repeat(255)}/end`, join(root, 'huge-link'))
  await symlink('folder/', join(root, 'trailing-slash-link'))
  await utimes(join(root, 'empty.txt'), 1_000_000_000, 1_000_000_000)
}

async function extractBoth(image: string, dir: string): Promise<[string, string]> {
  const byXorriso = join(dir, 'xorriso')
  const byBsdtar = join(dir, 'bsdtar')
  await mkdir(byXorriso)
  await mkdir(byBsdtar)
  await xorrisoExtract(image, byXorriso)
  await bsdtarExtract(image, byBsdtar)
  return [byXorriso, byBsdtar]
}

describe('ISO 9660 images', () => {
  it('are read back exactly by xorriso, bsdtar, 7z, pycdlib and isoinfo', async (t) => {
    const root = await tempDir(t)
    const work = await tempDir(t)
    await awkwardMaster(root)
    const input = await storedMaster(t, root)

    const [file] = isoMedium(input, { name: 'product-1.0' }).files
    const image = join(work, file.name)
    const written = await writeMediumFile(file, image)

    assert.equal(file.name, 'product-1.0.iso')
    assert.equal(written, file.size)

    for (const out of await extractBoth(image, work)) {
      await assertSameTree(root, out)
    }

    const report = await pycdlibOpen(image)
    assert.ok(report.rockRidge)
    assert.equal(report.joliet, true)
    assert.ok(report.isoLevels <= 8, `ISO 9660 tree is ${report.isoLevels} levels deep`)

    assert.match(await sevenZipTest(image), /Everything is Ok/)
    const described = await isoinfoDescribe(image)
    assert.match(described, /Joliet with UCS level 3 found/)
    assert.match(described, /Rock Ridge signatures version 1 found/)
    assert.match(described, /Volume id: PRODUCT_1_0/)
    assert.match(described, /Publisher id: PRESSMESH TEST PUBLISHER/)
  })

  it('chain continuation areas for a 4000-byte link target that bsdtar reads back', async (t) => {
    // SUSP 5.1 lets a continuation area end in a CE to the next. libisofs (xorriso) refuses
    // Rock Ridge link targets over 1024 bytes when it reads, and pycdlib supports one CE per
    // record, so this target, which needs areas in two sectors, is judged by bsdtar and 7z.
    const root = await tempDir(t)
    const work = await tempDir(t)
    const parts = [
      ...Array(100).fill('..'),
      'component'.repeat(30),
      'x'.repeat(255),
      'y'.repeat(3000),
    ]
    const target = parts.join('/').slice(0, 4000)
    await symlink(target, join(root, 'very-long-link'))
    await writeFile(join(root, 'after.txt'), 'after\n')
    const input = await storedMaster(t, root)
    const [file] = isoMedium(input, { name: 'links' }).files
    const image = join(work, file.name)
    await writeMediumFile(file, image)

    const out = join(work, 'out')
    await mkdir(out)
    await bsdtarExtract(image, out)

    assert.equal(await readlink(join(out, 'very-long-link')), target)
    await assertSameTree(root, out)
    assert.match(await sevenZipTest(image), /Everything is Ok/)
  })

  it('list real names in Joliet, long ones cut to 64 characters and kept unique', async (t) => {
    const root = await tempDir(t)
    const work = await tempDir(t)
    await awkwardMaster(root)
    const input = await storedMaster(t, root)
    const [file] = isoMedium(input, { name: 'joliet' }).files
    const image = join(work, file.name)
    await writeMediumFile(file, image)

    const paths = (await pycdlibOpen(image)).jolietPaths
    const names = paths.map((path) => path.slice(path.lastIndexOf('/') + 1))
    const top = paths.filter((path) => path.lastIndexOf('/') === 0)

    assert.ok(paths.includes('/Ünïcødé 名前 フォルダ/ファイル 🎉.txt;1'))
    assert.ok(paths.includes('/deep/a/b/c/d/e/f/g/h/i/j/middle.txt;1'))
    assert.ok(
      names.every((name) => name.length <= 64),
      'a Joliet name is over 64 characters',
    )
    assert.equal(new Set(top).size, top.length)
    assert.equal(top.filter((path) => path.startsWith(`/${'x'.repeat(40)}`)).length, 2)
    assert.ok(!paths.some((path) => path.includes('link')), 'links are left out of Joliet')
  })

  it('are byte-identical when the same manifest is written twice', async (t) => {
    const root = await tempDir(t)
    await awkwardMaster(root)
    const input = await storedMaster(t, root)
    const digest = async () => {
      const hash = createHash('sha256')
      for await (const bytes of isoMedium(input, { name: 'again' }).files[0].bytes()) {
        hash.update(bytes)
      }
      return hash.digest('hex')
    }

    assert.equal(await digest(), await digest())
  })

  it('hold 10,000 small files that xorriso and bsdtar extract exactly', async (t) => {
    const root = await tempDir(t)
    const work = await tempDir(t)

    for (let folder = 0; folder < 100; folder++) {
      const dir = join(root, `folder-${folder}`)
      await mkdir(dir)
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          writeFile(join(dir, `file number ${i}.txt`), `folder ${folder} file ${i}\n`),
        ),
      )
    }

    const input = await storedMaster(t, root)
    const [file] = isoMedium(input, { name: 'many' }).files
    const image = join(work, file.name)
    assert.equal(await writeMediumFile(file, image), file.size)

    for (const out of await extractBoth(image, work)) {
      await assertSameTree(root, out)
    }

    assert.match(await sevenZipTest(image), /Everything is Ok/)
    assert.equal((await pycdlibOpen(image)).jolietPaths.length, 10_100)
  })
})

describe('ISO image writer on odd input', () => {
  it('refuses bad options and invalid manifests with their codes', async (t) => {
    const root = await tempDir(t)
    await writeFile(join(root, 'a.txt'), 'a')
    const input = await storedMaster(t, root)
    const orphan = { ...input.manifest.files[0], path: 'nowhere/a.txt' }
    const broken = { ...input, manifest: { ...input.manifest, files: [orphan] } }

    assert.throws(() => isoMedium(input, { name: '' }), { code: 'ISO_BAD_OPTIONS' })
    assert.throws(() => isoMedium(input, { name: 'a/b' }), { code: 'ISO_BAD_OPTIONS' })
    assert.throws(() => isoMedium(input, { name: 'x', disc: 'floppy' as 'cd700' }), {
      code: 'ISO_BAD_OPTIONS',
    })
    assert.throws(() => isoMedium(broken, { name: 'x' }), { code: 'MANIFEST_MISSING_PARENT' })
  })

  it('fails with ISO_SOURCE_SIZE when the source gives fewer bytes than listed', async (t) => {
    const root = await tempDir(t)
    await writeFile(join(root, 'a.txt'), 'abcdef')
    const input = await storedMaster(t, root)
    const short = {
      ...input,
      source: {
        read: async function* () {
          yield Buffer.from('abc')
        },
      },
    }

    const drain = async () => {
      for await (const _ of isoMedium(short, { name: 'x' }).files[0].bytes()) {
        // Draining the image is the point.
      }
    }

    await assert.rejects(drain(), { code: 'ISO_SOURCE_SIZE' })
  })
})

describe('ISO image writer cancellation', () => {
  it('stops with the signal reason when aborted while writing', async (t) => {
    const root = await tempDir(t)
    await writeFile(join(root, 'one.bin'), pseudoRandomBytes(2 * 1024 * 1024, 1))
    await writeFile(join(root, 'two.bin'), pseudoRandomBytes(2 * 1024 * 1024, 2))
    const input = await storedMaster(t, root)
    const controller = new AbortController()
    const drain = async () => {
      for await (const _ of isoMedium(input, { name: 'x' }).files[0].bytes(controller.signal)) {
        controller.abort(new Error('stop here'))
      }
    }

    await assert.rejects(drain(), /stop here/)
  })
})
