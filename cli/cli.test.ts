import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parseManifest } from '../protocol/manifest.ts'
import { pseudoRandomBytes } from '../test/helpers/random.ts'
import { tempDir } from '../test/helpers/temp.ts'

const BIN = fileURLToPath(new URL('./bin/pressmesh.js', import.meta.url))

function pressmesh(args: string[], cwd?: string) {
  const run = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8' })
  return { code: run.status, stdout: run.stdout, stderr: run.stderr }
}

describe('the pressmesh command', () => {
  it('indexes a folder, writes the manifest beside it and fills a chunk store', async (t) => {
    const dir = await tempDir(t)
    const master = join(dir, 'product-1.0')
    await mkdir(join(master, 'data'), { recursive: true })
    await writeFile(join(master, 'setup.exe'), pseudoRandomBytes(3 * 1024 * 1024, 1))
    await writeFile(join(master, 'data', 'core.pak'), pseudoRandomBytes(2 * 1024 * 1024, 2))

    const run = pressmesh(['index', master, '--store', join(dir, 'store')])
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /^manifest {2}[0-9a-f]{64}$/m)
    assert.match(run.stdout, /^files {5}2 \(1 folders, 0 links\)$/m)
    assert.match(run.stdout, /^bytes {5}5242880 /m)
    assert.match(run.stdout, /MB\/s/)

    const manifest = parseManifest(await readFile(`${master}.pressmesh.json`))
    assert.ok(run.stdout.includes(manifest.id))
  })

  it('prints the canonical manifest with --json and honours chunk sizes', async (t) => {
    const dir = await tempDir(t)
    const file = join(dir, 'setup.exe')
    await writeFile(file, pseudoRandomBytes(1024 * 1024, 3))

    const run = pressmesh([
      'index',
      file,
      '--json',
      '--min',
      '4KiB',
      '--avg',
      '16KiB',
      '--max',
      '64KiB',
    ])
    assert.equal(run.code, 0, run.stderr)
    const parsed = parseManifest(run.stdout.trim())
    assert.equal(parsed.bytes.toString(), run.stdout.trim())
    assert.equal(parsed.manifest.chunker.avgSize, 16384)
    const entry = parsed.manifest.files[0]
    assert.ok(entry.type === 'file' && entry.chunks.length > 30)
  })

  it('diffs two versions: a 10% change needs about 10% of the bytes', async (t) => {
    const dir = await tempDir(t)
    const v1 = pseudoRandomBytes(16 * 1024 * 1024, 4)
    const v2 = Buffer.from(v1)
    pseudoRandomBytes(1600 * 1024, 5).copy(v2, 8 * 1024 * 1024)
    await writeFile(join(dir, 'v1.bin'), v1)
    await writeFile(join(dir, 'v2.bin'), v2)
    const small = ['--min', '16KiB', '--avg', '64KiB', '--max', '256KiB']
    assert.equal(pressmesh(['index', join(dir, 'v1.bin'), ...small]).code, 0)
    assert.equal(pressmesh(['index', join(dir, 'v2.bin'), ...small]).code, 0)

    const run = pressmesh([
      'diff',
      join(dir, 'v1.bin.pressmesh.json'),
      join(dir, 'v2.bin.pressmesh.json'),
      '--json',
    ])
    assert.equal(run.code, 0, run.stderr)
    const diff = JSON.parse(run.stdout)
    assert.ok(diff.fetchBytes >= 1600 * 1024, `fetch ${diff.fetchBytes}`)
    assert.ok(diff.fetchBytes <= 1.15 * 1600 * 1024 + 2 * 256 * 1024, `fetch ${diff.fetchBytes}`)
    assert.ok(diff.sharedBytes > 14 * 1024 * 1024)

    const text = pressmesh([
      'diff',
      join(dir, 'v1.bin.pressmesh.json'),
      join(dir, 'v2.bin.pressmesh.json'),
    ])
    assert.match(text.stdout, /^to fetch {2}\d+ chunks, \d+ bytes/m)
  })

  it('answers bad input with one line, a code and exit status 2, no stack trace', async (t) => {
    const dir = await tempDir(t)
    await writeFile(join(dir, 'not-a-manifest.json'), '{"version": 9}')

    for (const args of [
      ['index', join(dir, 'missing')],
      ['index', dir, '--avg', 'lots'],
      ['index', dir, '--min', '1'],
      ['index', dir, '--unknown'],
      ['index'],
      ['diff', join(dir, 'not-a-manifest.json'), join(dir, 'not-a-manifest.json')],
      ['diff', join(dir, 'absent.json'), join(dir, 'absent.json')],
      ['frobnicate'],
    ]) {
      const run = pressmesh(args)
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`)
      assert.doesNotMatch(run.stderr, /^\s+at /m, `${args.join(' ')} printed a stack trace`)
      assert.ok(run.stderr.trim().length > 0)
    }

    const missing = pressmesh(['index', join(dir, 'missing')])
    assert.equal(missing.stderr.trim().split('\n').length, 1)
    assert.match(missing.stderr, /no such file or folder: .*missing \[INDEX_NOT_FOUND\]/)
  })
})
