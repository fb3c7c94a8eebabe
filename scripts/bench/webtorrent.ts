import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { SwarmRun } from './bittorrent.ts'

// WebTorrent as a peer system: one seeder process holding the master plays the origin (its
// total upload capped with WebTorrent's `uploadLimit`, like the storage server's), one leecher
// process per node, and a bittorrent-tracker server, all on 127.0.0.1 with DHT, local peer
// discovery, uTP, UPnP and NAT-PMP off, so peers find each other through the tracker (and peer
// exchange) only.
//
// WebTorrent is not a dependency of the project: CI runs `npm ci`, and its WebRTC dependency
// builds natively and downloads from outside. It is installed on demand, once, into a cache
// folder of its own, the way ../shared/NOTES.md found to work on Node 20: 2.8.5 (3.x needs
// Node 22), scripts off, `webrtc-polyfill` replaced by an empty local package, uint8-util
// pinned to 2.2.5.

const PEER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'webtorrent-peer.mjs')
const INSTALL_TIMEOUT_MS = 5 * 60_000
const RUN_TIMEOUT_MS = 10 * 60_000
const STUB = 'webrtc-polyfill-stub'

const PACKAGE = {
  name: 'pressmesh-bench-webtorrent',
  private: true,
  type: 'module',
  dependencies: { webtorrent: '2.8.5', 'bittorrent-tracker': '11', 'uint8-util': '2.2.5' },
  overrides: { 'uint8-util': '2.2.5', 'webrtc-polyfill': `file:./${STUB}` },
}

// simple-peer imports these three names; on loopback over TCP nothing ever calls them.
const STUB_INDEX = `// Stands in for webrtc-polyfill: the benchmark's peers talk TCP, never WebRTC.
export const RTCPeerConnection = undefined
export const RTCSessionDescription = undefined
export const RTCIceCandidate = undefined
export default { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate }
`

export interface WebTorrentSetup {
  /** The folder holding WebTorrent's node_modules and the copied peer script. */
  dir: string
}

export type PrepareResult = { ok: true; setup: WebTorrentSetup } | { ok: false; reason: string }

/** The cache folder: `$PRESSMESH_BENCH_CACHE/webtorrent`, by default under ~/.cache. */
export function webTorrentDir(): string {
  const cache =
    process.env.PRESSMESH_BENCH_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'pressmesh-bench')
  return join(cache, 'webtorrent')
}

/** Installs WebTorrent into its cache folder unless an install of the same recipe is there. */
export async function prepareWebTorrent(dir = webTorrentDir()): Promise<PrepareResult> {
  const recipe = JSON.stringify(PACKAGE, null, 2)
  await mkdir(join(dir, STUB), { recursive: true })
  await writeFile(
    join(dir, STUB, 'package.json'),
    JSON.stringify({ name: 'webrtc-polyfill', version: '0.0.0-stub', type: 'module' }),
  )
  await writeFile(join(dir, STUB, 'index.js'), STUB_INDEX)
  await copyFile(PEER_SCRIPT, join(dir, 'webtorrent-peer.mjs'))

  // The marker is written only after a whole install, for this recipe; a folder emptied since
  // (or a recipe changed here) installs again.
  const installed = await readFile(join(dir, 'installed.json'), 'utf8').catch(() => null)
  if (installed === recipe && existsSync(join(dir, 'node_modules', 'webtorrent', 'package.json'))) {
    return { ok: true, setup: { dir } }
  }

  await writeFile(join(dir, 'package.json'), recipe)
  const failure = await npmInstall(dir)
  if (failure) {
    return { ok: false, reason: failure }
  }

  await writeFile(join(dir, 'installed.json'), recipe)
  return { ok: true, setup: { dir } }
}

/** Runs npm install in `dir`; resolves to a message on failure and null on success. */
function npmInstall(dir: string): Promise<string | null> {
  // `npm run` tells its scripts about the project (npm_config_local_prefix, npm_package_*);
  // passed on, they would point this install back at the project's own folder.
  const project = /^npm_(package_|lifecycle_|config_local_prefix$|config_loglevel$)/i
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !project.test(name)),
  )
  // Few, short retries: without a registry npm otherwise takes minutes to give up.
  const args = [
    'install',
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    '--fetch-retries=1',
    '--fetch-retry-mintimeout=2000',
    '--fetch-retry-maxtimeout=5000',
    '--fetch-timeout=60000',
    '--prefix',
    dir,
  ]

  return new Promise((resolve) => {
    const npm = spawn('npm', args, { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] })
    const timer = setTimeout(() => npm.kill('SIGKILL'), INSTALL_TIMEOUT_MS)
    let stderr = ''
    npm.stderr.on('data', (data) => {
      stderr = (stderr + data).slice(0, 4000)
    })
    npm.once('error', (err) => resolve(`could not run npm - ${err.message}`))
    npm.once('close', (code, signal) => {
      clearTimeout(timer)
      // npm's first error lines name the cause (`code ECONNREFUSED`, `errno …`).
      const cause = stderr
        .split('\n')
        .filter((line) => line.startsWith('npm error'))
        .slice(0, 2)
        .join(' / ')
      resolve(
        code === 0
          ? null
          : `npm install into ${dir} failed (${signal ?? `exit ${code}`}); is the npm registry ` +
              `reachable? ${cause}`,
      )
    })
  })
}

export async function runWebTorrent(
  setup: WebTorrentSetup,
  work: string,
  masterFile: string,
  nodes: number,
  capBytesPerSecond?: number,
): Promise<SwarmRun> {
  const dir = join(work, `wt-${Date.now()}`)
  const signal = AbortSignal.timeout(RUN_TIMEOUT_MS)
  const peers: Peer[] = []

  try {
    await mkdir(join(dir, 'seed'), { recursive: true })
    const seedFile = join(dir, 'seed', 'master.bin')
    await copyFile(masterFile, seedFile)
    const expected = await sha256(seedFile)

    const tracker = startPeer(setup, ['tracker'], signal)
    peers.push(tracker)
    const { port } = await tracker.next('listening')

    const torrent = join(dir, 'master.torrent')
    const limit = capBytesPerSecond ? Math.floor(capBytesPerSecond) : -1
    const announce = `http://127.0.0.1:${port}/announce`
    const seeder = startPeer(setup, ['seed', seedFile, torrent, announce, String(limit)], signal)
    peers.push(seeder)
    await seeder.next('seeding')

    const leechers = Array.from({ length: nodes }, (_, i) =>
      startPeer(setup, ['leech', torrent, join(dir, `leech-${i}`)], signal),
    )
    peers.push(...leechers)
    await Promise.all(leechers.map((leecher) => leecher.next('ready')))

    const started = performance.now()
    const done = await Promise.all(
      leechers.map(async (leecher) => {
        leecher.send('start')
        await leecher.next('done')
        const seconds = (performance.now() - started) / 1000
        const { sha256: got } = await leecher.next('verified')
        if (got !== expected) {
          throw new Error(`a webtorrent leecher got a file with SHA-256 ${got}, not ${expected}`)
        }
        return seconds
      }),
    )

    seeder.send('report')
    const { uploaded } = await seeder.next('report')
    return { originBytes: Number(uploaded), lastDoneSeconds: Math.max(...done) }
  } catch (err) {
    if (signal.aborted) {
      throw new Error(`webtorrent did not finish within ${RUN_TIMEOUT_MS / 60_000} minutes`)
    }
    throw err
  } finally {
    for (const peer of peers) {
      peer.child.kill('SIGKILL')
    }
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the peers' JSON lines are checked where used
type Message = Record<string, any>

interface Peer {
  child: ChildProcess
  send(command: string): void
  /** The next message with this event; rejects on an error message, an exit or the deadline. */
  next(event: string): Promise<Message>
}

function startPeer(setup: WebTorrentSetup, args: string[], signal: AbortSignal): Peer {
  const role = args[0]
  const child = spawn(process.execPath, [join(setup.dir, 'webtorrent-peer.mjs'), ...args], {
    cwd: setup.dir,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const messages: Message[] = []
  const wakers = new Set<() => void>()
  const wake = () => {
    for (const resolve of wakers) resolve()
  }
  let exit: string | undefined
  let stderr = ''

  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      messages.push(JSON.parse(line))
      wake()
    } catch {
      // a library's own output line, not one of ours
    }
  })
  child.stdin!.on('error', () => {
    // a peer that died is reported by the exit handler below
  })
  child.stderr!.on('data', (data) => {
    stderr = (stderr + data).slice(-1000)
  })
  child.once('exit', (code, sig) => {
    exit = sig ?? `exit ${code}`
    wake()
  })
  signal.addEventListener('abort', wake, { once: true })

  async function next(event: string): Promise<Message> {
    for (;;) {
      const at = messages.findIndex((m) => m.event === event || m.event === 'error')
      if (at >= 0) {
        const [message] = messages.splice(at, 1)
        if (message.event === 'error') {
          throw new Error(`webtorrent ${role} failed - ${message.message}`)
        }
        return message
      }

      if (exit) {
        throw new Error(`webtorrent ${role} ended (${exit}) - ${stderr.trim()}`)
      }

      signal.throwIfAborted()
      await new Promise<void>((resolve) => {
        const done = () => {
          wakers.delete(done)
          resolve()
        }
        wakers.add(done)
      })
    }
  }

  return {
    child,
    next,
    send: (command) => {
      child.stdin!.write(`${command}\n`)
    },
  }
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk)
  }
  return hash.digest('hex')
}
