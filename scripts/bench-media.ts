// Media benchmark: one generated installer tree (a few dozen files of incompressible data) made
// into a released image, by Pressmesh and by the standard tools, side by side in one run.
//
//   npm run -s bench:media -- [--size 1GiB] [--files 36] [--runs 3] [--dir /tmp] [--json]
//
// "Released" means the image plus its checksum: Pressmesh writes the image and hashes it in the
// same pass (SHA256SUMS, BLAKE3SUMS, an Ed25519 signature); the standard pipelines are the image
// tool followed by sha256sum. The image tools alone are timed too, as the ceiling to compare
// with. Pressmesh runs in this process from a chunk store filled beforehand (indexing is not
// timed); the tools read the tree from the page cache. Runs are interleaved; best and median.
// Each run's CPU time is logged too (all of this process's threads for Pressmesh, the tool and
// its children for a tool): on this virtual machine, writing into the page cache now and then
// costs several times the usual system time, for the tools as for Pressmesh; the CPU figures
// tell such a run (more CPU time) from one that waited for a core (the same CPU time, longer).
import { spawnSync } from 'node:child_process'
import { createCipheriv, generateKeyPairSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, open, readFile, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { parseSize } from '../cli/args.ts'
import { ChunkStore } from '../node/chunk-store/store.ts'
import { imgMedium } from '../node/media/img/index.ts'
import type { Medium, MediumInput } from '../node/media/medium.ts'
import { readAheadSource } from '../node/media/read-ahead.ts'
import { publishMedium } from '../node/media/publish.ts'
import { tarMedium } from '../node/media/tar/index.ts'
import { folderTarget } from '../node/media/upload/folder-target.ts'
import { MEDIUM_WRITERS } from '../node/media/writers.ts'
import { HashWorker } from '../protocol/chunker/whole-hash.ts'
import { indexLocalMaster } from '../protocol/local-master.ts'
import { requireTool } from './bench/tools.ts'

interface Row {
  system: string
  seconds?: number
  medianSeconds?: number
  mbPerSecond?: number
  /** CPU time of the median run (all threads; a tool's with its children), seconds. */
  medianCpuSeconds?: number
  note?: string
}

type Job = () => Promise<void>

/** USER_HZ, the unit of /proc/<pid>/stat times: 100 on every Linux architecture in use. */
const CLOCK_TICKS = 100

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1GiB' },
    files: { type: 'string', default: '36' },
    runs: { type: 'string', default: '3' },
    dir: { type: 'string', default: tmpdir() },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})

if (values.help) {
  process.stdout.write(
    'usage: npm run -s bench:media -- [--size 1GiB] [--files 36] [--runs 3] [--dir /tmp] ' +
      '[--json]\n',
  )
  process.exit(0)
}

const size = parseSize(values.size ?? '1GiB', '--size')
const fileCount = Number(values.files)
const runs = Number(values.runs)
const key = generateKeyPairSync('ed25519').privateKey
/** The machine may be shared: the load around the timed runs says how far to trust them. */
const load: { start?: number; end?: number } = {}
let hashWorker: HashWorker

requireTool('bsdtar', 'libarchive-tools')
requireTool('xorriso', 'xorriso')
requireTool('sha256sum', 'coreutils')
const work = await mkdtemp(join(values.dir ?? tmpdir(), 'pressmesh-bench-media-'))

try {
  const tree = join(work, 'installer')
  await generateTree(tree)
  await warm(tree)
  const store = await ChunkStore.open({ dir: join(work, 'store') })
  const input = await fillStore(store, tree)
  hashWorker = new HashWorker()
  const out = join(work, 'out')
  const iso = MEDIUM_WRITERS.iso
  const systems: Array<[string, Job | string]> = [
    ['pressmesh pack tar (+ sums, signature)', () => pack(tarMedium(input, { name: 'b' }), out)],
    [
      'bsdtar -cf + sha256sum',
      () => tool('bsdtar', ['-cf', join(out, 'b.tar'), '-C', tree, '.'], true, out),
    ],
    ['bsdtar -cf (image only)', () => tool('bsdtar', ['-cf', join(out, 'b.tar'), '-C', tree, '.'])],
    [
      'pressmesh pack iso (+ sums, signature)',
      iso ? () => pack(iso(input, { name: 'b' }), out) : 'pressmesh iso: not in this build',
    ],
    ['xorriso -as mkisofs -J -R + sha256sum', () => xorriso(tree, out, true)],
    ['xorriso -as mkisofs -J -R (image only)', () => xorriso(tree, out, false)],
    ['pressmesh pack img (+ sums, signature)', () => pack(imgMedium(input, { name: 'b' }), out)],
  ]
  const times = new Map<string, number[]>()
  const cpuTimes = new Map<string, number[]>()
  load.start = loadavg()[0]

  for (let run = 0; run < runs; run++) {
    for (const [name, job] of systems) {
      if (typeof job === 'string') {
        continue
      }

      await rm(out, { recursive: true, force: true })
      await mkdir(out)
      spawnSync('sync')
      const cpuBefore = cpuSeconds()
      const started = performance.now()
      await job()
      const seconds = (performance.now() - started) / 1000
      const cpu = cpuSeconds() - cpuBefore
      times.set(name, [...(times.get(name) ?? []), seconds])
      cpuTimes.set(name, [...(cpuTimes.get(name) ?? []), cpu])
      log(`run ${run + 1}/${runs} ${name}: ${seconds.toFixed(2)} s, ${cpu.toFixed(2)} CPU-s`)
    }
  }

  load.end = loadavg()[0]
  await store.close()
  await hashWorker.stop()
  report(
    systems.map(([name, job]) =>
      typeof job === 'string' ? { system: name, note: job } : row(name, times, cpuTimes),
    ),
  )
} finally {
  await rm(work, { recursive: true, force: true })
}

function row(system: string, times: Map<string, number[]>, cpuTimes: Map<string, number[]>): Row {
  const result = times.get(system)!
  const sorted = result.map((seconds, run) => ({ seconds, cpu: cpuTimes.get(system)![run] }))
  sorted.sort((a, b) => a.seconds - b.seconds)
  const median = sorted[Math.floor(sorted.length / 2)]
  return {
    system,
    seconds: sorted[0].seconds,
    medianSeconds: median.seconds,
    mbPerSecond: size / sorted[0].seconds / 1e6,
    medianCpuSeconds: median.cpu,
  }
}

function report(rows: Row[]): void {
  const best = (name: string) => rows.find((r) => r.system.startsWith(name))?.seconds ?? Number.NaN
  const goals = {
    tarAheadOfBsdtarWithSums: best('pressmesh pack tar') < best('bsdtar -cf + sha256sum'),
    tarWithin1_5xOfBsdtarAlone: best('pressmesh pack tar') <= 1.5 * best('bsdtar -cf (image only)'),
    isoAheadOfXorrisoWithSums: best('pressmesh pack iso') < best('xorriso -as mkisofs -J -R +'),
    isoWithin1_5xOfXorrisoAlone:
      best('pressmesh pack iso') <= 1.5 * best('xorriso -as mkisofs -J -R (image only)'),
  }

  const ratios = {
    tarVsBsdtarAlone: best('pressmesh pack tar') / best('bsdtar -cf (image only)'),
    isoVsXorrisoAlone: best('pressmesh pack iso') / best('xorriso -as mkisofs -J -R (image only)'),
  }

  if (values.json) {
    const summary = { sizeBytes: size, files: fileCount, runs, load, results: rows, goals, ratios }
    process.stdout.write(`${JSON.stringify(summary)}\n`)
    return
  }

  process.stdout.write(
    `\n${(size / 2 ** 30).toFixed(2)} GiB in ${fileCount} files, ${runs} runs, load average ` +
      `${load.start?.toFixed(1)} at the start, ${load.end?.toFixed(1)} at the end\n\n`,
  )
  process.stdout.write('| system | best s | best MB/s | median s | median CPU s |\n')
  process.stdout.write('| --- | ---: | ---: | ---: | ---: |\n')

  for (const r of rows) {
    const cells =
      r.seconds === undefined
        ? [r.note, '', '', '']
        : [
            r.seconds.toFixed(2),
            r.mbPerSecond!.toFixed(0),
            r.medianSeconds!.toFixed(2),
            r.medianCpuSeconds!.toFixed(2),
          ]
    process.stdout.write(`| ${r.system} | ${cells.join(' | ')} |\n`)
  }

  process.stdout.write(
    `\npack tar / bsdtar alone: ${ratios.tarVsBsdtarAlone.toFixed(2)}x, ` +
      `pack iso / xorriso alone: ${ratios.isoVsXorrisoAlone.toFixed(2)}x (goal: at most 1.5x)\n`,
  )
  process.stdout.write(`goals: ${JSON.stringify(goals)}\n`)
}

async function pack(medium: Medium, out: string): Promise<void> {
  await publishMedium(medium, folderTarget({ dir: out }), { key, hashWorker })
}

async function xorriso(tree: string, out: string, sums: boolean): Promise<void> {
  const args = ['-as', 'mkisofs', '-quiet', '-J', '-R', '-o', join(out, 'b.iso'), tree]
  await tool('xorriso', args, sums, out)
}

/** Runs a tool, then (if asked) sha256sum of what it wrote, as a release script would. */
async function tool(command: string, args: string[], sums = false, out = ''): Promise<void> {
  const run = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })

  if (run.status !== 0) {
    throw new Error(`${command} failed: ${run.stderr}`)
  }

  if (sums) {
    const image = command === 'bsdtar' ? 'b.tar' : 'b.iso'
    const sum = spawnSync('sh', ['-c', `sha256sum ${image} > SHA256SUMS`], { cwd: out })
    if (sum.status !== 0) {
      throw new Error('sha256sum failed')
    }
  }
}

async function fillStore(store: ChunkStore, tree: string): Promise<MediumInput> {
  const hashWorker = new HashWorker()

  try {
    const result = await indexLocalMaster(tree, {
      hashWorker,
      onChunk: (chunk) => store.put(chunk.id, chunk.pieces, { verified: true }),
    })
    return {
      manifest: result.manifest,
      source: readAheadSource(store),
      meta: { volumeId: 'BENCH', date: 1_767_225_600 },
    }
  } finally {
    await hashWorker.stop()
  }
}

/** An installer-like tree: a few folders of files of differing sizes, all incompressible. */
async function generateTree(root: string): Promise<void> {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 9), Buffer.alloc(16))
  const weights = Array.from({ length: fileCount }, (_, i) => 1 + (i % 5))
  const total = weights.reduce((a, b) => a + b, 0)
  let left = size

  for (let i = 0; i < fileCount; i++) {
    const folder = join(root, ['', 'data', 'data/packs', 'redist'][i % 4])
    const bytes = i === fileCount - 1 ? left : Math.floor((size * weights[i]) / total)
    await mkdir(folder, { recursive: true })
    await writeRandom(join(folder, `part-${String(i).padStart(2, '0')}.bin`), bytes, cipher)
    left -= bytes
  }
}

async function writeRandom(
  path: string,
  bytes: number,
  cipher: ReturnType<typeof createCipheriv>,
): Promise<void> {
  const block = Buffer.alloc(8 * 1024 * 1024)
  const handle = await open(path, 'w')

  try {
    for (let written = 0; written < bytes; written += block.length) {
      await handle.write(cipher.update(block.subarray(0, Math.min(block.length, bytes - written))))
    }
  } finally {
    await handle.close()
  }
}

/** Reads every file once so that the tools find the tree in the page cache. */
async function warm(root: string): Promise<void> {
  const list = spawnSync('find', [root, '-type', 'f'], { encoding: 'utf8' }).stdout
  for (const path of list.trim().split('\n')) {
    await readFile(path)
  }
}

/**
 * CPU time used so far by this process (all its threads) and by the tools it waited for, in
 * seconds: user and system time from /proc/self/stat (Linux).
 */
function cpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'latin1')
  // Fields after the command (which may hold spaces) start at the state, field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number)
  return (utime + stime + cutime + cstime) / CLOCK_TICKS
}

function log(line: string): void {
  if (!values.json) {
    process.stderr.write(`${line}\n`)
  }
}
