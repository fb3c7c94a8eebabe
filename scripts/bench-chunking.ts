// Chunking benchmark: one file of generated data indexed side by side by the BLAKE3 ceiling,
// Pressmesh (with and without writing a chunk store) and casync, in one run on one machine.
//
//   npm run bench:chunking -- [--size 1GiB] [--runs 3] [--dir /tmp] [--json]
//
// Each system runs `--runs` times, interleaved so that noise from other work on the machine
// spreads over all of them; the best run of each is reported. The file is read once first so
// that every system reads from the page cache.
import { spawnSync } from 'node:child_process'
import { createCipheriv } from 'node:crypto'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { parseSize } from '../cli/args.ts'
import { ProgressBar } from '../cli/progress.ts'
import { ChunkStore } from '../node/chunk-store/store.ts'
import { chunkerParams, type ChunkerParams } from '../protocol/chunker/params.ts'
import { HashWorker } from '../protocol/chunker/whole-hash.ts'
import { asBuffer, Blake3Hasher } from '../protocol/hash.ts'
import { indexLocalMaster, readBuffers } from '../protocol/local-master.ts'
import { requireTool } from './bench/tools.ts'

interface Result {
  system: string
  /** Best run. */
  seconds: number
  mbPerSecond: number
  medianSeconds: number
}

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1GiB' },
    runs: { type: 'string', default: '3' },
    dir: { type: 'string', default: tmpdir() },
    json: { type: 'boolean', default: false },
  },
})

const size = parseSize(values.size ?? '1GiB', '--size')
const runs = Number(values.runs)
const params = chunkerParams()

requireTool('casync', 'casync')
const work = await mkdtemp(join(values.dir ?? tmpdir(), 'pressmesh-bench-'))

try {
  const file = join(work, 'master.bin')
  await generate(file, size)
  await warm(file)

  const worker = new HashWorker()
  // Each entry: a name and a job; a job may return an untimed clean-up for before the next run.
  const systems: Array<[string, () => Promise<void>]> = [
    ['blake3 (read + hash, the ceiling)', () => blake3Only(file)],
    ['pressmesh index (chunk + blake3 + sha256)', () => pressmeshIndex(file, worker)],
    ['pressmesh index --store', () => pressmeshStore(file, work, worker)],
    ['casync make --store (sha256)', () => casync(file, work, params)],
  ]
  const times = new Map<string, number[]>()

  for (let run = 0; run < runs; run++) {
    for (const [name, job] of systems) {
      await clean(work)
      const started = performance.now()
      await job()
      const seconds = (performance.now() - started) / 1000
      times.set(name, [...(times.get(name) ?? []), seconds])
      log(`run ${run + 1}/${runs} ${name}: ${seconds.toFixed(2)} s`)
    }
  }

  await worker.stop()
  report(
    [...times].map(([system, all]) => {
      const sorted = [...all].sort((a, b) => a - b)
      const seconds = sorted[0]
      const medianSeconds = sorted[Math.floor(sorted.length / 2)]
      return { system, seconds, mbPerSecond: size / seconds / 1e6, medianSeconds }
    }),
  )
} finally {
  await rm(work, { recursive: true, force: true })
}

function report(results: Result[]): void {
  const byName = new Map(results.map((result) => [result.system, result]))
  const casyncSpeed = byName.get('casync make --store (sha256)')?.mbPerSecond ?? Number.NaN
  const index = byName.get('pressmesh index (chunk + blake3 + sha256)')?.mbPerSecond ?? 0
  const store = byName.get('pressmesh index --store')?.mbPerSecond ?? 0
  const goals = {
    indexAtLeast500MBps: index >= 500,
    storeAtLeast2xCasync: store >= 2 * casyncSpeed,
  }

  if (values.json) {
    const rows = results.map((row) => ({ ...row, vsCasync: row.mbPerSecond / casyncSpeed }))
    process.stdout.write(`${JSON.stringify({ sizeBytes: size, runs, results: rows, goals })}\n`)
    return
  }

  process.stdout.write(`\n${(size / 2 ** 30).toFixed(2)} GiB, ${runs} runs each\n\n`)
  process.stdout.write(
    '| system | best s | best MB/s | vs casync | median s |\n| --- | ---: | ---: | ---: | ---: |\n',
  )
  for (const row of results) {
    const ratio = (row.mbPerSecond / casyncSpeed).toFixed(2)
    process.stdout.write(
      `| ${row.system} | ${row.seconds.toFixed(2)} | ${row.mbPerSecond.toFixed(0)} | ${ratio}x | ` +
        `${row.medianSeconds.toFixed(2)} |\n`,
    )
  }

  process.stdout.write(
    `\ngoals: index >= 500 MB/s: ${goals.indexAtLeast500MBps ? 'met' : 'NOT met'}; ` +
      `store >= 2x casync: ${goals.storeAtLeast2xCasync ? 'met' : 'NOT met'}\n`,
  )
}

async function blake3Only(file: string): Promise<void> {
  const handle = await open(file, 'r')
  const hasher = new Blake3Hasher()

  try {
    for await (const buf of readBuffers(handle, size, 4 * 1024 * 1024)) {
      hasher.update(asBuffer(buf))
    }
  } finally {
    await handle.close()
  }

  hasher.digest('hex')
}

async function pressmeshIndex(file: string, worker: HashWorker): Promise<void> {
  await indexLocalMaster(file, { chunker: params, hashWorker: worker })
}

async function pressmeshStore(file: string, work: string, worker: HashWorker): Promise<void> {
  const dir = join(work, 'pressmesh-store')
  const store = await ChunkStore.open({ dir })

  try {
    await indexLocalMaster(file, {
      chunker: params,
      hashWorker: worker,
      onChunk: (chunk) => store.put(chunk.id, chunk.pieces, { verified: true }),
    })
  } finally {
    await store.close()
  }
}

async function casync(file: string, work: string, chunker: ChunkerParams): Promise<void> {
  const store = join(work, 'casync-store')
  const sizes = `${chunker.minSize}:${chunker.avgSize}:${chunker.maxSize}`
  const run = spawnSync(
    'casync',
    [
      'make',
      `--store=${store}`,
      '--digest=sha256',
      `--chunk-size=${sizes}`,
      join(work, 'master.caibx'),
      file,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' },
  )

  if (run.status !== 0) {
    throw new Error(`casync failed: ${run.stderr}`)
  }
}

/** Removes the previous run's stores outside the timed part, and lets the disk settle. */
async function clean(work: string): Promise<void> {
  for (const name of ['pressmesh-store', 'casync-store', 'master.caibx']) {
    await rm(join(work, name), { recursive: true, force: true })
  }

  spawnSync('sync')
}

async function generate(file: string, bytes: number): Promise<void> {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16))
  const block = Buffer.alloc(8 * 1024 * 1024)
  const handle = await open(file, 'w')
  const progress = new ProgressBar('generating')

  try {
    for (let written = 0; written < bytes; written += block.length) {
      await handle.write(cipher.update(block.subarray(0, Math.min(block.length, bytes - written))))
      progress.update(written, bytes)
    }
  } finally {
    progress.done()
    await handle.close()
  }
}

async function warm(file: string): Promise<void> {
  const handle = await open(file, 'r')
  try {
    for await (const _ of readBuffers(handle, size, 8 * 1024 * 1024)) {
      // reading is the point: the page cache keeps the file for every system alike
    }
  } finally {
    await handle.close()
  }
}

function log(line: string): void {
  if (!values.json) {
    process.stderr.write(`${line}\n`)
  }
}
