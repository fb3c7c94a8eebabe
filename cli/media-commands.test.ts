import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { awkwardTree, tool } from '../test/helpers/media.ts'
import { startDavServer } from '../test/helpers/dav-server.ts'
import { tempDir } from '../test/helpers/temp.ts'

const BIN = fileURLToPath(new URL('./bin/pressmesh.js', import.meta.url))

/** The command without blocking this process, which serves nginx's test helper meanwhile. */
async function pressmeshAsync(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (data) => {
    stdout += data
  })
  child.stderr.on('data', (data) => {
    stderr += data
  })
  const [code] = await once(child, 'exit')
  return { code: code as number | null, stdout, stderr }
}

function pressmesh(args: string[]) {
  const run = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' })
  return { code: run.status, stdout: run.stdout, stderr: run.stderr }
}

/** A release key pair and a signed tar medium of a small tree, in a fresh folder. */
async function packedFolder(dir: string) {
  const source = join(dir, 'product-1.0')
  const out = join(dir, 'out')
  await awkwardTree(source, { symlinks: true })
  assert.equal(pressmesh(['keygen', '--release', '--out', dir]).code, 0)

  const run = pressmesh([
    'pack',
    source,
    '--format',
    'tar',
    '--key',
    join(dir, 'release.key.pem'),
    '--out',
    out,
  ])
  assert.equal(run.code, 0, run.stderr)
  return { source, out, run, publicKey: join(dir, 'release.pub.pem') }
}

describe('the pack, verify and keygen commands', () => {
  it('keygen writes a PEM pair with a private file only its owner can read', async (t) => {
    const dir = await tempDir(t)
    const run = pressmesh(['keygen', '--release', '--out', dir])

    assert.equal(run.code, 0, run.stderr)
    assert.equal((await stat(join(dir, 'release.key.pem'))).mode & 0o777, 0o600)
    assert.match(
      await readFile(join(dir, 'release.key.pem'), 'utf8'),
      /^-----BEGIN PRIVATE KEY-----\n/,
    )
    assert.match(
      await readFile(join(dir, 'release.pub.pem'), 'utf8'),
      /^-----BEGIN PUBLIC KEY-----\n/,
    )

    const again = pressmesh(['keygen', '--release', '--out', dir])
    assert.equal(again.code, 2)
    assert.match(again.stderr, /\[KEY_EXISTS\]$/m)
  })

  it('packs a folder into a signed medium that sha256sum, openssl and verify accept', async (t) => {
    const dir = await tempDir(t)
    const { out, run, publicKey } = await packedFolder(dir)

    assert.match(run.stdout, /^written {3}product-1\.0\.tar {2}\d+ bytes/m)
    assert.match(run.stdout, /^signed {4}SHA256SUMS\.sig by key [0-9a-f]{16}$/m)
    const sums = await readFile(join(out, 'SHA256SUMS'), 'utf8')
    assert.match(sums, /^[0-9a-f]{64} {2}product-1\.0\.tar\n$/)
    assert.match(
      await readFile(join(out, 'BLAKE3SUMS'), 'utf8'),
      /^[0-9a-f]{64} {2}product-1\.0\.tar\n$/,
    )

    const check = tool('sha256sum', ['-c', 'SHA256SUMS'], 'coreutils', { cwd: out })
    assert.equal(check.code, 0, check.stdout + check.stderr)
    assert.equal(check.stdout, 'product-1.0.tar: OK\n')

    const openssl = tool(
      'openssl',
      [
        'pkeyutl',
        '-verify',
        '-pubin',
        '-inkey',
        publicKey,
        '-rawin',
        '-in',
        join(out, 'SHA256SUMS'),
        '-sigfile',
        join(out, 'SHA256SUMS.sig'),
      ],
      'openssl',
    )
    assert.equal(openssl.code, 0, openssl.stdout + openssl.stderr)

    const verify = pressmesh(['verify', out, '--key', publicKey])
    assert.equal(verify.code, 0, verify.stderr)
    assert.match(verify.stdout, /^verified {2}1 files, .* signed by key [0-9a-f]{16}$/m)
  })

  it('verify rejects a changed byte, changed sums, a missing file and a wrong key', async (t) => {
    const dir = await tempDir(t)
    const { out, publicKey } = await packedFolder(dir)
    const archive = join(out, 'product-1.0.tar')
    const original = await readFile(archive)
    const sums = await readFile(join(out, 'SHA256SUMS'), 'utf8')
    const expectIntegrity = (args: string[], code: string) => {
      const run = pressmesh(args)
      assert.equal(run.code, 5, `${code}: ${run.stderr}`)
      assert.equal(run.stderr.trim().split('\n').length, 1, 'one line')
      assert.match(run.stderr, new RegExp(`\\[${code}\\]\\n$`))
    }

    const changed = Buffer.from(original)
    changed[2000] ^= 0x01
    await writeFile(archive, changed)
    expectIntegrity(['verify', out, '--key', publicKey], 'MEDIA_FILE_CORRUPT')
    await writeFile(archive, original)

    await writeFile(
      join(out, 'SHA256SUMS'),
      sums.replace(/^./, (c) => (c === '0' ? '1' : '0')),
    )
    expectIntegrity(['verify', out, '--key', publicKey], 'MEDIA_SIGNATURE_BAD')
    await writeFile(join(out, 'SHA256SUMS'), sums)

    const other = join(dir, 'other')
    await mkdir(other)
    assert.equal(pressmesh(['keygen', '--release', '--out', other]).code, 0)
    expectIntegrity(['verify', out, '--key', join(other, 'release.pub.pem')], 'MEDIA_SIGNATURE_BAD')

    await rm(archive)
    expectIntegrity(['verify', out, '--key', join(dir, 'release.key.pem')], 'MEDIA_FILE_MISSING')
  })

  it('packs an img from a manifest and a store, unsigned with a note, behind an MBR', async (t) => {
    const dir = await tempDir(t)
    const source = join(dir, 'product-2.0')
    await awkwardTree(source)
    const store = join(dir, 'store')
    assert.equal(pressmesh(['index', source, '--store', store]).code, 0)

    const run = pressmesh([
      'pack',
      `${source}.pressmesh.json`,
      '--store',
      store,
      '--format',
      'img',
      '--mbr',
      '--volume-id',
      'Product 2',
      '--date',
      '2026-01-01T00:00:00Z',
      '--out',
      join(dir, 'out'),
    ])

    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /^written {3}product-2\.0\.img /m)
    assert.match(run.stdout, /^unsigned {2}no --key given/m)
    const check = tool('sha256sum', ['-c', 'SHA256SUMS'], 'coreutils', { cwd: join(dir, 'out') })
    assert.equal(check.stdout, 'product-2.0.img: OK\n')
    const table = tool('sfdisk', ['-J', join(dir, 'out', 'product-2.0.img')], 'fdisk')
    assert.equal(JSON.parse(table.stdout).partitiontable.partitions[0].start, 2048)
  })

  it('uploads a signed medium to a WebDAV server when --out is a URL', async (t) => {
    const dir = await tempDir(t)
    const nginx = await startDavServer(t)
    const source = join(dir, 'product-3.0')
    await awkwardTree(source, { symlinks: true })
    assert.equal(pressmesh(['keygen', '--release', '--out', dir]).code, 0)

    const run = await pressmeshAsync([
      'pack',
      source,
      '--format',
      'tar.gz',
      '--key',
      join(dir, 'release.key.pem'),
      '--out',
      `${nginx.url}releases/3.0/`,
    ])

    assert.equal(run.code, 0, run.stderr)
    const folder = join(nginx.root, 'releases', '3.0')
    const verify = pressmesh(['verify', folder, '--key', join(dir, 'release.pub.pem')])
    assert.equal(verify.code, 0, verify.stderr)
    assert.deepEqual((await readdir(folder)).sort(), [
      'BLAKE3SUMS',
      'SHA256SUMS',
      'SHA256SUMS.sig',
      'product-3.0.tar.gz',
    ])
  })

  it('packs a signed ISO that verify accepts, and refuses an unknown disc or format', async (t) => {
    const dir = await tempDir(t)
    await awkwardTree(join(dir, 'src'))
    assert.equal(pressmesh(['keygen', '--release', '--out', dir]).code, 0)
    const key = join(dir, 'release.key.pem')
    const run = pressmesh([
      'pack',
      join(dir, 'src'),
      '--format',
      'iso',
      '--name',
      'product-2.0',
      '--key',
      key,
      '--out',
      join(dir, 'out'),
    ])

    assert.equal(run.code, 0, run.stderr)
    assert.ok((await readdir(join(dir, 'out'))).includes('product-2.0.iso'))
    const verified = pressmesh(['verify', join(dir, 'out'), '--key', join(dir, 'release.pub.pem')])
    assert.equal(verified.code, 0, verified.stderr)

    const floppy = pressmesh([
      'pack',
      join(dir, 'src'),
      '--format',
      'iso',
      '--disc',
      'floppy',
      '--out',
      join(dir, 'out2'),
    ])
    assert.equal(floppy.code, 2, floppy.stderr)
    assert.match(floppy.stderr, /\[ISO_BAD_OPTIONS\]\n$/)

    const unknown = pressmesh([
      'pack',
      join(dir, 'src'),
      '--format',
      'zip',
      '--out',
      join(dir, 'out'),
    ])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /\[PACK_UNKNOWN_FORMAT\]\n$/)
  })
})
