import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { createConnection } from 'node:net'
import { join, normalize, resolve, sep } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

// The storage server of `pressmesh dev`: nginx on loopback when it is installed (what build
// sites run), serving a folder with Range requests and JSON folder listings; otherwise a small
// built-in server that answers the same way, so `npm start` works on a machine without nginx.

export interface StorageServer {
  url: string
  kind: 'nginx' | 'built-in'
  stop(): Promise<void>
}

export async function startStorageServer(
  root: string,
  workDir: string,
  port: number,
  prefer: 'nginx' | 'built-in' = 'nginx',
): Promise<StorageServer> {
  if (prefer === 'nginx' && spawnSync('sh', ['-c', 'command -v nginx']).status === 0) {
    return startNginx(root, workDir, port)
  }
  return startBuiltIn(root, port)
}

async function startNginx(root: string, dir: string, port: number): Promise<StorageServer> {
  await mkdir(join(dir, 'tmp'), { recursive: true })
  const user = process.getuid?.() === 0 ? 'user root;' : ''
  const temp = join(dir, 'tmp')
  const conf = `${user}
daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 256; }
http {
  access_log ${join(dir, 'access.log')};
  client_body_temp_path ${temp};
  proxy_temp_path ${temp};
  fastcgi_temp_path ${temp};
  uwsgi_temp_path ${temp};
  scgi_temp_path ${temp};
  types { application/json json; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    autoindex on;
    autoindex_format json;
  }
}
`
  const confPath = join(dir, 'nginx.conf')
  await writeFile(confPath, conf)
  const child = spawn('nginx', ['-e', join(dir, 'error.log'), '-c', confPath, '-p', dir], {
    stdio: 'ignore',
  })
  await waitForPort(port, child)
  return {
    url: `http://127.0.0.1:${port}`,
    kind: 'nginx',
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((done) => child.once('exit', done))
        child.kill('SIGTERM')
        await exited
      }
    },
  }
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) {
      throw new Error(`nginx exited with ${child.exitCode}: is port ${port} taken?`)
    }
    const open = await new Promise<boolean>((done) => {
      const socket = createConnection({ port, host: '127.0.0.1' })
      socket.once('connect', () => {
        socket.destroy()
        done(true)
      })
      socket.once('error', () => done(false))
    })
    if (open) {
      return
    }
    await sleep(50)
  }
  throw new Error(`nginx did not listen on 127.0.0.1:${port}`)
}

async function startBuiltIn(root: string, port: number): Promise<StorageServer> {
  const base = resolve(root)
  const server: Server = createServer((request, response) => {
    void answer(base, request.url ?? '/', request.headers.range, response).catch(() => {
      if (!response.headersSent) {
        response.writeHead(500).end()
      } else {
        response.destroy()
      }
    })
  })
  await new Promise<void>((done, fail) => {
    server.once('error', fail)
    server.listen(port, '127.0.0.1', () => done())
  })
  return {
    url: `http://127.0.0.1:${port}`,
    kind: 'built-in',
    stop: () => new Promise((done) => server.close(() => done())),
  }
}

async function answer(
  base: string,
  url: string,
  range: string | undefined,
  response: import('node:http').ServerResponse,
): Promise<void> {
  const path = normalize(join(base, decodeURIComponent(new URL(url, 'http://x').pathname)))
  if (path !== base && !path.startsWith(base + sep)) {
    response.writeHead(403).end()
    return
  }

  const info = await stat(path).catch(() => undefined)
  if (info === undefined) {
    response.writeHead(404).end()
    return
  }

  if (info.isDirectory()) {
    // nginx's JSON autoindex: [{"name", "type": "file"|"directory", "size", "mtime"}].
    const entries = await readdir(path, { withFileTypes: true })
    const listing = await Promise.all(
      entries.map(async (entry) => {
        const entryInfo = await stat(join(path, entry.name))
        return {
          name: entry.name,
          type: entryInfo.isDirectory() ? 'directory' : 'file',
          mtime: entryInfo.mtime.toUTCString(),
          ...(entryInfo.isDirectory() ? {} : { size: entryInfo.size }),
        }
      }),
    )
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(listing))
    return
  }

  const match = range === undefined ? null : /^bytes=(\d+)-(\d*)$/.exec(range)
  if (range !== undefined && match === null) {
    response.writeHead(416, { 'content-range': `bytes */${info.size}` }).end()
    return
  }
  if (match === null) {
    response.writeHead(200, { 'content-length': info.size, 'accept-ranges': 'bytes' })
    createReadStream(path).pipe(response)
    return
  }

  const start = Number(match[1])
  const end = match[2] === '' ? info.size - 1 : Math.min(Number(match[2]), info.size - 1)
  if (start > end || start >= info.size) {
    response.writeHead(416, { 'content-range': `bytes */${info.size}` }).end()
    return
  }
  response.writeHead(206, {
    'content-length': end - start + 1,
    'content-range': `bytes ${start}-${end}/${info.size}`,
  })
  createReadStream(path, { start, end }).pipe(response)
}
