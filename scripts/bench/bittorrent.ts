import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '../../test/helpers/nginx.ts'

// BitTorrent as a peer system: Debian's mktorrent, opentracker and aria2. One seeder holds the
// master and plays the origin (its total upload capped like the storage server's); one leecher
// per node. DHT, local peer discovery and IPv6 are off, so peers find each other only through
// the tracker (and peer exchange) on loopback.

export interface SwarmRun {
  originBytes: number
  lastDoneSeconds: number
}

export async function runBitTorrent(
  work: string,
  masterFile: string,
  nodes: number,
  capBytesPerSecond?: number,
): Promise<SwarmRun> {
  const dir = join(work, `bt-${Date.now()}`)
  const children: ChildProcess[] = []

  try {
    const trackerPort = await freePort()
    const torrent = join(dir, 'master.torrent')
    await mkdir(join(dir, 'seed'), { recursive: true })
    await copyFile(masterFile, join(dir, 'seed', 'master.bin'))
    run('mktorrent', [
      '-a',
      `http://127.0.0.1:${trackerPort}/announce`,
      '-l',
      '20',
      '-o',
      torrent,
      join(dir, 'seed', 'master.bin'),
    ])

    // opentracker serves only whitelisted info-hashes and, as root, insists on a chroot.
    await mkdir(join(dir, 'tracker'), { recursive: true })
    const whitelist = join(dir, 'tracker', 'whitelist')
    await writeFile(whitelist, `${infoHash(await readFile(torrent))}\n`)
    // As root it reads the list after chrooting into its folder.
    const listPath = process.getuid?.() === 0 ? '/whitelist' : whitelist
    children.push(
      spawn(
        'opentracker',
        [
          '-i',
          '127.0.0.1',
          '-p',
          String(trackerPort),
          '-P',
          String(trackerPort),
          '-w',
          listPath,
          '-d',
          join(dir, 'tracker'),
        ],
        {
          stdio: 'ignore',
        },
      ),
    )
    await sleep(300)

    const common = [
      '--enable-dht=false',
      '--enable-dht6=false',
      '--bt-enable-lpd=false',
      '--disable-ipv6=true',
      '--summary-interval=0',
      '--console-log-level=warn',
      '--bt-tracker-connect-timeout=5',
      '--follow-torrent=false',
    ]
    const seedRpc = await freePort()
    children.push(
      spawn(
        'aria2c',
        [
          ...common,
          `--dir=${join(dir, 'seed')}`,
          '--check-integrity=true',
          '--seed-ratio=0.0',
          '--seed-time=600',
          `--listen-port=${await freePort()}`,
          '--enable-rpc',
          `--rpc-listen-port=${seedRpc}`,
          ...(capBytesPerSecond
            ? [`--max-overall-upload-limit=${Math.floor(capBytesPerSecond)}`]
            : []),
          torrent,
        ],
        { stdio: 'ignore' },
      ),
    )
    await waitSeeding(seedRpc)

    const started = performance.now()
    const leechers: number[] = []
    for (let i = 0; i < nodes; i++) {
      const rpc = await freePort()
      leechers.push(rpc)
      children.push(
        spawn(
          'aria2c',
          [
            ...common,
            `--dir=${join(dir, `leech-${i}`)}`,
            '--seed-ratio=0.0',
            '--seed-time=600',
            `--listen-port=${await freePort()}`,
            '--enable-rpc',
            `--rpc-listen-port=${rpc}`,
            torrent,
          ],
          { stdio: 'ignore' },
        ),
      )
    }

    const done = await Promise.all(leechers.map((rpc) => waitComplete(rpc, started)))
    const originBytes = await uploaded(seedRpc)

    return { originBytes, lastDoneSeconds: Math.max(...done) }
  } finally {
    for (const child of children) {
      child.kill('SIGKILL')
    }
  }
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: 'pipe' })
  if (result.status !== 0) {
    throw new Error(`${command} failed: ${result.stderr}`)
  }
}

async function rpc(port: number, method: string, params: unknown[] = []): Promise<unknown> {
  const response = await fetch(`http://127.0.0.1:${port}/jsonrpc`, {
    method: 'POST',
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
  return ((await response.json()) as { result: unknown }).result
}

interface Status {
  status: string
  completedLength: string
  totalLength: string
  uploadLength: string
}

async function statuses(port: number): Promise<Status[]> {
  const keys = ['status', 'completedLength', 'totalLength', 'uploadLength']
  const active = (await rpc(port, 'aria2.tellActive', [keys])) as Status[]
  const stopped = (await rpc(port, 'aria2.tellStopped', [0, 10, keys])) as Status[]
  return [...active, ...stopped]
}

async function waitSeeding(port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const list = await statuses(port).catch(() => [])
    if (list.some((s) => s.totalLength !== '0' && s.completedLength === s.totalLength)) {
      return
    }
    await sleep(100)
  }
  throw new Error('the aria2 seeder did not start seeding')
}

async function waitComplete(port: number, started: number): Promise<number> {
  for (let i = 0; i < 2400; i++) {
    const list = await statuses(port).catch(() => [])
    if (list.some((s) => s.totalLength !== '0' && s.completedLength === s.totalLength)) {
      return (performance.now() - started) / 1000
    }
    await sleep(50)
  }
  throw new Error('an aria2 leecher did not finish in 2 minutes')
}

async function uploaded(port: number): Promise<number> {
  return (await statuses(port)).reduce((sum, s) => sum + Number(s.uploadLength), 0)
}

/** SHA-1 of the bencoded `info` dictionary (BEP 3), as lowercase hex. */
export function infoHash(torrent: Buffer): string {
  const start = torrent.indexOf('4:info') + 6
  const end = skipValue(torrent, start)
  return createHash('sha1').update(torrent.subarray(start, end)).digest('hex')
}

function skipValue(data: Buffer, at: number): number {
  const c = String.fromCharCode(data[at])

  if (c === 'i') {
    return data.indexOf('e', at) + 1
  }

  if (c === 'l' || c === 'd') {
    let i = at + 1
    while (data[i] !== 0x65) {
      i = skipValue(data, i)
    }
    return i + 1
  }

  const colon = data.indexOf(':', at)
  return colon + 1 + Number(data.subarray(at, colon).toString())
}
