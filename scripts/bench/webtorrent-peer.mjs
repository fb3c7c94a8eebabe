// One process of the WebTorrent swarm benchmark: the tracker, the seeder (the origin) or a
// leecher (a node). Plain JavaScript, because scripts/bench/webtorrent.ts copies it into the
// folder where WebTorrent is installed and runs it from there with plain `node`, so that its
// imports resolve against that folder's node_modules and not the project's.
//
//   node webtorrent-peer.mjs tracker
//   node webtorrent-peer.mjs seed MASTER TORRENT_OUT ANNOUNCE_URL UPLOAD_LIMIT
//   node webtorrent-peer.mjs leech TORRENT DIR
//
// It prints one JSON object a line on stdout ({"event": …}) and reads commands a line on
// stdin: `start` (a leecher begins downloading), `report` (the seeder prints its upload count).
// When stdin closes, because the parent finished or died, it exits.
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const PIECE_LENGTH = 2 ** 20

// WebTorrent's connection pool listens on every interface; the benchmark must stay on loopback.
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function listenOnLoopback(...args) {
  if (typeof args[0] === 'number' && typeof args[1] !== 'string') {
    args.splice(1, 0, '127.0.0.1')
  }
  return listen.apply(this, args)
}

const [role, ...params] = process.argv.slice(2)
const commands = new Map()

createInterface({ input: process.stdin })
  .on('line', (line) => commands.get(line.trim())?.())
  .on('close', () => process.exit(0))

try {
  if (role === 'tracker') {
    await tracker()
  } else if (role === 'seed') {
    await seed(...params)
  } else if (role === 'leech') {
    await leech(...params)
  } else {
    throw new Error(`unknown role ${role}: expected tracker, seed or leech`)
  }
} catch (err) {
  fail(err)
}

async function tracker() {
  const { Server } = await import('bittorrent-tracker')
  const server = new Server({ http: true, udp: false, ws: false, stats: false })
  server.on('error', fail)
  server.listen(0, '127.0.0.1', () =>
    emit({ event: 'listening', port: server.http.address().port }),
  )
}

async function seed(master, torrentOut, announce, uploadLimit) {
  const client = await newClient({ uploadLimit: Number(uploadLimit) })
  const options = { announce: [announce], pieceLength: PIECE_LENGTH }

  client.seed(master, options, async (torrent) => {
    await writeFile(torrentOut, torrent.torrentFile)
    commands.set('report', () => emit({ event: 'report', uploaded: torrent.uploaded }))
    emit({ event: 'seeding', infoHash: torrent.infoHash })
  })
}

async function leech(torrentFile, dir) {
  const client = await newClient({})
  const torrentBytes = await readFile(torrentFile)

  commands.set('start', () => {
    client.add(torrentBytes, { path: dir }, (torrent) => {
      torrent.on('done', async () => {
        emit({ event: 'done' })
        emit({ event: 'verified', sha256: await sha256(join(dir, torrent.files[0].path)) })
      })
    })
  })
  emit({ event: 'ready' })
}

async function newClient(options) {
  const { default: WebTorrent } = await import('webtorrent')
  const client = new WebTorrent({
    ...options,
    dht: false,
    lsd: false,
    utp: false,
    natUpnp: false,
    natPmp: false,
    webSeeds: false,
  })
  client.on('error', fail)
  return client
}

async function sha256(path) {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk)
  }
  return hash.digest('hex')
}

function emit(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`)
}

function fail(err) {
  emit({ event: 'error', message: String(err?.message ?? err) })
  process.exit(1)
}
