import assert from 'node:assert/strict'
import { execFile, execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lstat, open, readdir, readlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { promisify } from 'node:util'
import { ChunkStore } from '../../node/chunk-store/store.ts'
import { type MediumFile, type MediumInput, storeSource } from '../../node/media/medium.ts'
import { indexLocalMaster } from '../../protocol/local-master.ts'
import { tempDir } from './temp.ts'

// Judges for ISO images: tools nobody here wrote. Each judge is a Debian program; a missing one
// fails the test with the package to install, never skips it.

const run = promisify(execFile)
const BIG_OUTPUT = 64 * 1024 * 1024
const PYTHON = '/usr/bin/python3'

const PACKAGES: Record<string, string> = {
  xorriso: 'xorriso',
  bsdtar: 'libarchive-tools',
  '7z': 'p7zip-full',
  isoinfo: 'genisoimage',
  [PYTHON]: 'python3-pycdlib',
}

export function requireJudge(command: string): void {
  try {
    execFileSync('sh', ['-c', `command -v "${command}"`], { stdio: 'ignore' })
  } catch {
    assert.fail(`judge ${command} is missing: apt-get install ${PACKAGES[command] ?? command}`)
  }
}

export const META = {
  volumeId: 'Product 1.0',
  publisher: 'Pressmesh Test Publisher',
  application: 'Pressmesh',
  date: 1_700_000_000,
}

/** Indexes a folder into a fresh chunk store and returns the medium input reading from it. */
export async function storedMaster(t: TestContext, root: string): Promise<MediumInput> {
  const store = await ChunkStore.open({ dir: await tempDir(t, 'pressmesh-store-') })
  t.after(() => store.close())
  const indexed = await indexLocalMaster(root, {
    onChunk: (c) => store.put(c.id, c.pieces, { verified: true }),
  })

  return { manifest: indexed.manifest, source: storeSource(store), meta: META }
}

/** Streams a medium file to disk; returns the bytes written. */
export async function writeMediumFile(file: MediumFile, dest: string): Promise<number> {
  const handle = await open(dest, 'w')
  let written = 0

  try {
    for await (const bytes of file.bytes()) {
      await handle.write(bytes)
      written += bytes.length
    }
  } finally {
    await handle.close()
  }

  return written
}

export interface PycdlibReport {
  rockRidge: boolean | string
  joliet: boolean
  /** Deepest ISO 9660 folder, the root being level 1. */
  isoLevels: number
  /** Every Joliet path, as pycdlib lists it. */
  jolietPaths: string[]
}

const PYCDLIB_SCRIPT = `
import json, sys, pycdlib
iso = pycdlib.PyCdlib()
iso.open(sys.argv[1])
levels = 1
for dirname, dirs, files in iso.walk(iso_path='/'):
    levels = max(levels, 1 if dirname == '/' else dirname.count('/') + 1)
joliet = []
if iso.has_joliet():
    for dirname, dirs, files in iso.walk(joliet_path='/'):
        base = '' if dirname == '/' else dirname
        joliet += [base + '/' + name for name in dirs + files]
print(json.dumps({'rockRidge': iso.has_rock_ridge() or '', 'joliet': iso.has_joliet(),
                  'isoLevels': levels, 'jolietPaths': sorted(joliet)}))
iso.close()
`

/** pycdlib opens the image (it raises on structural faults) and reports what it found. */
export async function pycdlibOpen(image: string): Promise<PycdlibReport> {
  requireJudge(PYTHON)
  const { stdout } = await run(PYTHON, ['-c', PYCDLIB_SCRIPT, image], { maxBuffer: BIG_OUTPUT })
  return JSON.parse(stdout)
}

export async function xorrisoExtract(image: string, out: string): Promise<void> {
  requireJudge('xorriso')
  const args = ['-abort_on', 'NEVER', '-return_with', 'WARNING', '32', '-osirrox', 'on']
  await run('xorriso', [...args, '-indev', image, '-extract', '/', out], { maxBuffer: BIG_OUTPUT })
}

export async function bsdtarExtract(image: string, out: string): Promise<void> {
  requireJudge('bsdtar')
  await run('bsdtar', ['-xf', image, '-C', out], { maxBuffer: BIG_OUTPUT })
}

export async function sevenZipTest(image: string): Promise<string> {
  requireJudge('7z')
  const { stdout } = await run('7z', ['t', image], { maxBuffer: BIG_OUTPUT })
  return stdout
}

export async function isoinfoDescribe(image: string): Promise<string> {
  requireJudge('isoinfo')
  const { stdout } = await run('isoinfo', ['-d', '-i', image], { maxBuffer: BIG_OUTPUT })
  return stdout
}

/** `isoinfo -l`: the primary hierarchy's records as isoinfo lists them. */
export async function isoinfoList(image: string): Promise<string> {
  requireJudge('isoinfo')
  const { stdout } = await run('isoinfo', ['-l', '-i', image], { maxBuffer: BIG_OUTPUT })
  return stdout
}

/** `diff -r --no-dereference`, then modes, link targets and file times compared one by one. */
export async function assertSameTree(expected: string, actual: string): Promise<void> {
  try {
    await run('diff', ['-r', '--no-dereference', expected, actual], { maxBuffer: BIG_OUTPUT })
  } catch (err) {
    const out = (err as { stdout?: string }).stdout ?? ''
    assert.fail(`trees differ:\n${out.slice(0, 4000)}`)
  }

  assert.deepEqual(await describeTree(actual), await describeTree(expected))
}

async function describeTree(root: string): Promise<string[]> {
  const lines: string[] = []

  const walk = async (dir: string, rel: string) => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name)
      const info = await lstat(path)
      const relPath = rel === '' ? name : `${rel}/${name}`
      const mode = (info.mode & 0o7777).toString(8)

      if (info.isSymbolicLink()) {
        lines.push(`link ${relPath} -> ${await readlink(path)}`)
      } else if (info.isDirectory()) {
        lines.push(`dir ${relPath} ${mode}`)
        await walk(path, relPath)
      } else {
        lines.push(`file ${relPath} ${mode} ${info.size} ${Math.floor(info.mtimeMs / 1000)}`)
      }
    }
  }

  await walk(root, '')
  return lines
}

/** SHA-256 of a file, read as a stream. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const bytes of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) {
    hash.update(bytes)
  }
  return hash.digest('hex')
}

/** SHA-256 of what `bsdtar -xOf IMAGE member` prints: one member read without a copy on disk. */
export async function sha256OfBsdtarMember(image: string, member: string): Promise<string> {
  requireJudge('bsdtar')
  const child = spawn('bsdtar', ['-xOf', image, member], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  const hash = createHash('sha256')

  for await (const bytes of child.stdout) {
    hash.update(bytes)
  }

  assert.equal(await exited, 0, `bsdtar -xOf ${member} failed`)
  return hash.digest('hex')
}
