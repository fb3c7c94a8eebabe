import { createCipheriv } from 'node:crypto'
import {
  lutimes,
  mkdir,
  open,
  rename,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises'
import { join } from 'node:path'

// A fake installer for `pressmesh dev`: a few files that look like a desktop product's master
// (an installer executable, content packs, locale packs, a readme, a link). The bytes come from
// AES-CTR over zeros with a fixed key, so every machine generates the very same master quickly
// and its chunks look like compressed data, as real installers do.

export const SAMPLE_VERSION = '1.0.0'
/** Fixed times, so that every machine computes the same manifest id: 2026-01-01T00:00:00Z. */
const SAMPLE_MTIME = 1767225600

interface SampleFile {
  path: string
  size: number
  seed: number
}

const FILES: SampleFile[] = [
  { path: 'setup.exe', size: 24 * 1024 * 1024, seed: 1 },
  { path: 'data/core.pak', size: 48 * 1024 * 1024, seed: 2 },
  { path: 'data/textures.pak', size: 20 * 1024 * 1024, seed: 3 },
  { path: 'data/locale/en-US.pak', size: 3 * 1024 * 1024, seed: 4 },
  { path: 'data/locale/fr-FR.pak', size: 3 * 1024 * 1024, seed: 5 },
  { path: 'data/locale/ja-JP.pak', size: 3 * 1024 * 1024, seed: 6 },
]

const README = `Pressmesh Sample Product ${SAMPLE_VERSION}\n\nRun setup.exe to install.\n`
const WRITE_BYTES = 4 * 1024 * 1024

/** Creates the sample master in `dir` unless it is already complete; returns its path. */
export async function ensureSampleMaster(dir: string): Promise<string> {
  const done = join(dir, '.complete')

  if (await exists(done)) {
    return join(dir, 'master')
  }

  const staging = join(dir, 'master.partial')
  await rm(staging, { recursive: true, force: true })
  await mkdir(join(staging, 'data', 'locale'), { recursive: true })

  for (const file of FILES) {
    await writeSampleFile(join(staging, file.path), file)
  }

  await writeFile(join(staging, 'README.txt'), README)
  await symlink('README.txt', join(staging, 'LIESMICH.txt'))
  await fixTimes(staging)

  await rm(join(dir, 'master'), { recursive: true, force: true })
  await rename(staging, join(dir, 'master'))
  await writeFile(done, `${SAMPLE_VERSION}\n`)

  return join(dir, 'master')
}

async function writeSampleFile(path: string, file: SampleFile): Promise<void> {
  const key = Buffer.alloc(16, file.seed)
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16))
  const zeros = Buffer.alloc(WRITE_BYTES)
  const handle = await open(path, 'w')

  try {
    for (let written = 0; written < file.size; written += WRITE_BYTES) {
      const length = Math.min(WRITE_BYTES, file.size - written)
      await handle.write(cipher.update(zeros.subarray(0, length)))
    }
  } finally {
    await handle.close()
  }
}

async function fixTimes(root: string): Promise<void> {
  await lutimes(join(root, 'LIESMICH.txt'), SAMPLE_MTIME, SAMPLE_MTIME)

  for (const path of [...FILES.map((file) => file.path), 'README.txt']) {
    await utimes(join(root, path), SAMPLE_MTIME, SAMPLE_MTIME)
  }

  for (const folder of ['data/locale', 'data', '.']) {
    await utimes(join(root, folder), SAMPLE_MTIME, SAMPLE_MTIME)
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}
