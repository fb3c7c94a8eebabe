// Swarm benchmark: N nodes each need one master from a storage server whose total upload is
// capped. Side by side, in one run: every node downloading straight from nginx, the Pressmesh
// mesh (real node processes), BitTorrent (aria2 + opentracker + mktorrent) and WebTorrent
// (installed on demand outside the project, see bench/webtorrent.ts). An uncapped round is
// reported too.
//
//   npm run bench:swarm -- [--nodes 4] [--size 256MiB] [--origin-cap 50MiB] [--json]
//
// For each system and round: bytes sent by the origin / master size, seconds until the last
// node is done, and that time against the physical limit (master size / origin cap).
import { spawn, spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { parseSize } from '../cli/args.ts'
import { indexLocalMaster } from '../protocol/local-master.ts'
import { startNode, type TestNode } from '../test/helpers/mesh.ts'
import { requireTool, startNginx } from '../test/helpers/nginx.ts'
import { pseudoRandomBytes } from '../test/helpers/random.ts'
import { runBitTorrent, type SwarmRun } from './bench/bittorrent.ts'
import { startTokenProxy } from './bench/token-proxy.ts'
import { prepareWebTorrent, runWebTorrent } from './bench/webtorrent.ts'

interface Result {
  system: string
  originCap: number | null
  originBytesRatio: number
  lastDoneSeconds: number
  vsLimit: number | null
}

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '4' },
    size: { type: 'string', default: '256MiB' },
    'origin-cap': { type: 'string', default: '50MiB' },
    json: { type: 'boolean', default: false },
  },
})

const nodes = Number(values.nodes)
const size = parseSize(values.size ?? '256MiB', '--size')
const cap = parseSize(values['origin-cap'] ?? '50MiB', '--origin-cap')

for (const [tool, pkg] of [
  ['nginx', 'nginx-light'],
  ['curl', 'curl'],
  ['aria2c', 'aria2'],
  ['mktorrent', 'mktorrent'],
  ['opentracker', 'opentracker'],
]) {
  requireTool(tool, pkg)
}

const work = await mkdtemp(join(tmpdir(), 'pressmesh-swarm-'))
const results: Result[] = []
const skipped: Array<{ system: string; reason: string }> = []

try {
  await mkdir(join(work, 'www'))
  const master = join(work, 'www', 'master.bin')
  await writeFile(master, pseudoRandomBytes(size, 42))
  const indexed = await indexLocalMaster(master)
  await writeFile(`${master}.pressmesh.json`, indexed.bytes)
  const nginx = await startNginx({ root: join(work, 'www'), dir: join(work, 'nginx') })

  log('webtorrent: installing or reusing the cached install…')
  const webtorrent = await prepareWebTorrent()
  if (!webtorrent.ok) {
    skipped.push({ system: 'webtorrent', reason: webtorrent.reason })
    log(`bench: skipping webtorrent - ${webtorrent.reason}`)
  }

  try {
    for (const roundCap of [cap, undefined]) {
      const label = roundCap ? `${(roundCap / 2 ** 20).toFixed(0)} MiB/s` : 'uncapped'
      const systems: Array<[string, () => Promise<SwarmRun | null>]> = [
        ['direct from nginx', () => direct(nginx.port, roundCap)],
        ['pressmesh', () => pressmesh(nginx.port, roundCap)],
        ['bittorrent (aria2)', () => runBitTorrent(work, master, nodes, roundCap)],
      ]
      if (webtorrent.ok) {
        const setup = webtorrent.setup
        systems.push([
          'webtorrent',
          () => optional('webtorrent', label, runWebTorrent(setup, work, master, nodes, roundCap)),
        ])
      }

      for (const [system, job] of systems) {
        // Every system writes what it fetched to disk: start each one with the page cache's dirty
        // pages of the previous one written out, so no system pays for another's writeback.
        spawnSync('sync')
        log(`${label}: ${system}…`)
        const run = await job()
        if (!run) {
          continue
        }

        const limit = roundCap ? size / roundCap : null
        results.push({
          system,
          originCap: roundCap ?? null,
          originBytesRatio: run.originBytes / size,
          lastDoneSeconds: run.lastDoneSeconds,
          vsLimit: limit ? run.lastDoneSeconds / limit : null,
        })
      }
    }
  } finally {
    await nginx.stop()
  }
} finally {
  await rm(work, { recursive: true, force: true })
}

report()

/**
 * A run of a peer system installed from outside the project: its failure is reported beside
 * the table (and in the exit code) instead of losing the other systems' figures.
 */
async function optional(
  system: string,
  label: string,
  run: Promise<SwarmRun>,
): Promise<SwarmRun | null> {
  try {
    return await run
  } catch (err) {
    const reason = `${label} round failed - ${(err as Error).message}`
    skipped.push({ system, reason })
    log(`bench: ${system} ${reason}`)
    process.exitCode = 1
    return null
  }
}

async function direct(nginxPort: number, roundCap?: number): Promise<SwarmRun> {
  const proxy = await startTokenProxy(nginxPort, roundCap)
  const started = performance.now()

  try {
    const times = await Promise.all(
      Array.from(
        { length: nodes },
        () =>
          new Promise<number>((resolve, reject) => {
            const curl = spawn('curl', [
              '-sf',
              '-o',
              '/dev/null',
              `http://127.0.0.1:${proxy.port}/master.bin`,
            ])
            curl.once('exit', (code) =>
              code === 0
                ? resolve((performance.now() - started) / 1000)
                : reject(new Error(`curl exited ${code}`)),
            )
          }),
      ),
    )
    return { originBytes: proxy.bytesDown(), lastDoneSeconds: Math.max(...times) }
  } finally {
    await proxy.close()
  }
}

async function pressmesh(nginxPort: number, roundCap?: number): Promise<SwarmRun> {
  const proxy = await startTokenProxy(nginxPort, roundCap)
  const dir = join(work, `mesh-${Date.now()}`)
  const started: TestNode[] = []

  try {
    started.push(await startNode({ name: 'n0', dataDir: join(dir, 'n0') }))
    for (let i = 1; i < nodes; i++) {
      started.push(
        await startNode({
          name: `n${i}`,
          dataDir: join(dir, `n${i}`),
          bootstrap: [started[0].addresses[0]],
        }),
      )
    }

    await new Promise((resolve) => setTimeout(resolve, 1500))
    const url = `http://127.0.0.1:${proxy.port}/master.bin`
    const begin = performance.now()
    const times = await Promise.all(
      started.map((node) => node.fetch(url).then(() => (performance.now() - begin) / 1000)),
    )
    return { originBytes: proxy.bytesDown(), lastDoneSeconds: Math.max(...times) }
  } finally {
    await Promise.all(started.map((node) => node.kill()))
    await proxy.close()
    await rm(dir, { recursive: true, force: true })
  }
}

function report(): void {
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ nodes, sizeBytes: size, results, skipped })}\n`)
    return
  }

  process.stdout.write(`\n${nodes} nodes, ${(size / 2 ** 20).toFixed(0)} MiB master\n\n`)
  process.stdout.write(
    '| system | origin cap | origin bytes / size | last node done (s) | vs limit |\n',
  )
  process.stdout.write('| --- | --- | ---: | ---: | ---: |\n')
  for (const r of results) {
    const capText = r.originCap ? `${(r.originCap / 2 ** 20).toFixed(0)} MiB/s` : 'none'
    const vs = r.vsLimit === null ? '-' : `${r.vsLimit.toFixed(2)}x`
    const cells = [
      r.system,
      capText,
      r.originBytesRatio.toFixed(3),
      r.lastDoneSeconds.toFixed(2),
      vs,
    ]
    process.stdout.write(`| ${cells.join(' | ')} |\n`)
  }

  for (const s of skipped) {
    process.stdout.write(`\n${s.system} skipped: ${s.reason}\n`)
  }
}

function log(line: string): void {
  if (!values.json) {
    process.stderr.write(`${line}\n`)
  }
}
