import { spawnSync } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir, symlink, utimes, writeFile, lutimes } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import type { TestContext } from 'node:test'
import { ChunkStore } from '../../node/chunk-store/store.ts'
import type { MediumFile, MediumInput } from '../../node/media/medium.ts'
import { readAheadSource } from '../../node/media/read-ahead.ts'
import { chunkerParams } from '../../protocol/chunker/params.ts'
import { indexLocalMaster } from '../../protocol/local-master.ts'
import { pseudoRandomBytes } from './random.ts'
import { tempDir } from './temp.ts'

// Shared by the media tests: source trees on disk, indexed into a temporary chunk store, and the
// outside tools that judge the images.

export const SMALL_CHUNKS = chunkerParams({ minSize: 16384, avgSize: 65536, maxSize: 262144 })
export const TREE_TIME = 1_700_000_000

/** Indexes `root` into a fresh store (closed when the test ends) and returns a medium input. */
export async function indexTree(t: TestContext, root: string, volumeId = 'TEST_1_0') {
  const store = await ChunkStore.open({ dir: await tempDir(t, 'pressmesh-store-') })
  t.after(() => store.close())
  const result = await indexLocalMaster(root, {
    chunker: SMALL_CHUNKS,
    onChunk: (chunk) => store.put(chunk.id, chunk.pieces, { verified: true }),
  })
  const input: MediumInput = {
    manifest: result.manifest,
    source: readAheadSource(store),
    meta: { volumeId, date: TREE_TIME },
  }

  return { input, store, manifest: result.manifest }
}

/** Writes a medium file to `path` and returns the number of bytes written. */
export async function writeMediumFile(file: MediumFile, path: string): Promise<number> {
  let written = 0
  const counted = async function* () {
    for await (const bytes of file.bytes()) {
      written += bytes.length
      yield bytes
    }
  }

  await pipeline(Readable.from(counted()), createWriteStream(path))
  return written
}

/** Runs a tool; a missing tool fails the test naming the Debian package that provides it. */
export function tool(command: string, args: string[], pkg: string, options: { cwd?: string } = {}) {
  const run = spawnSync(command, args, {
    cwd: options.cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, LC_ALL: 'C.UTF-8', MTOOLS_SKIP_CHECK: '0' },
  })

  if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error(`${command} is missing: install the Debian package ${pkg}`)
  }

  return { code: run.status, stdout: run.stdout, stderr: run.stderr }
}

/** A tree with the awkward cases: Unicode, long names, deep folders, empty files and folders. */
export async function awkwardTree(root: string, options: { symlinks?: boolean } = {}) {
  const deep = join(root, ...Array.from({ length: 10 }, (_, i) => `level-${i}`))
  const long = `${'a-very-long-file-name-'.repeat(5)}end.txt`
  const files: Array<[string, Buffer | string]> = [
    ['setup.exe', pseudoRandomBytes(700 * 1024, 1)],
    ['README.TXT', 'read me\n'],
    ['readme-lower.txt', 'lower\n'],
    ['Ünïcødé 名前.txt', 'unicode\n'],
    ['data/core.pak', pseudoRandomBytes(300 * 1024, 2)],
    ['data/empty.bin', ''],
    [`data/${long}`, 'long\n'],
    [join(deep.slice(root.length + 1), 'bottom.txt'), 'deep\n'],
  ]

  await mkdir(join(root, 'empty-folder'), { recursive: true })
  await mkdir(deep, { recursive: true })

  for (const [path, bytes] of files) {
    await mkdir(dirname(join(root, path)), { recursive: true })
    await writeFile(join(root, path), bytes)
  }

  if (options.symlinks) {
    await symlink('data/core.pak', join(root, 'core-link'))
    await symlink('../setup.exe', join(root, 'data', 'setup-link'))
    await lutimes(join(root, 'core-link'), TREE_TIME, TREE_TIME)
  }

  await setTimes(root)
}

/** Many small files in one folder. */
export async function manySmallFiles(root: string, count: number): Promise<void> {
  await mkdir(join(root, 'many'), { recursive: true })

  const names = Array.from({ length: count }, (_, i) => `file-${String(i).padStart(5, '0')}.dat`)

  // A few hundred writes in flight at a time: one by one, 10,000 files take seconds.
  for (let i = 0; i < count; i += 250) {
    const batch = names.slice(i, i + 250)
    await Promise.all(batch.map((name, j) => writeFile(join(root, 'many', name), `${i + j}\n`)))
  }
}

/** Fixed times on every file and folder (deepest first), so extracted trees can be compared. */
export async function setTimes(root: string): Promise<void> {
  const run = spawnSync('find', [root, '-depth', '!', '-type', 'l', '-print0'], {
    encoding: 'buffer',
  })
  const paths = run.stdout.toString('utf8').split('\u0000').filter(Boolean)

  for (const path of paths) {
    await utimes(path, TREE_TIME, TREE_TIME)
  }
}

export async function mkdirs(root: string, ...paths: string[]): Promise<void> {
  for (const path of paths) {
    await mkdir(join(root, path), { recursive: true })
  }
}

/** Every entry below `root`: type, permission bits, link target and (not for links) mtime. */
export function treeListing(root: string): string[] {
  const run = spawnSync('find', [root, '-mindepth', '1', '-printf', '%P|%y|%m|%l|%T@\\n'], {
    encoding: 'utf8',
  })
  return run.stdout
    .trim()
    .split('\n')
    .map((line) => {
      const [path, type, mode, target, time] = line.split('|')
      const link = type === 'l'
      return `${path}|${type}|${link ? '' : mode}|${target}|${link ? '' : Math.floor(Number(time))}`
    })
    .sort()
}
