import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

// Real nginx (Debian nginx-light) as the storage server of a test: unprivileged, on a free
// loopback port, serving one folder with Range support and JSON folder listings. Its access log
// records the bytes it sent for each request, which is how tests count origin traffic.

export interface NginxInit {
  root: string
  /** Working folder for the config, logs and temp files. */
  dir: string
  /** Per-connection rate limit, e.g. '20m' (nginx limit_rate). */
  limitRate?: string
  port?: number
}

export interface Nginx {
  url: string
  port: number
  bytesSent(): Promise<number>
  stop(): Promise<void>
  start(): Promise<void>
}

export function requireTool(command: string, debianPackage: string): void {
  if (spawnSync('sh', ['-c', `command -v ${command}`]).status !== 0) {
    throw new Error(`${command} is not installed: apt-get install ${debianPackage}`)
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

export async function startNginx(init: NginxInit): Promise<Nginx> {
  requireTool('nginx', 'nginx-light')
  const port = init.port ?? (await freePort())
  const log = join(init.dir, 'access.log')
  await mkdir(join(init.dir, 'tmp'), { recursive: true })

  // As root, nginx's workers would drop to `nobody`, which cannot read a test's 0700 folders.
  const user = process.getuid?.() === 0 ? 'user root;' : ''
  const conf = `
${user}
daemon off;
worker_processes 1;
pid ${join(init.dir, 'nginx.pid')};
error_log ${join(init.dir, 'error.log')} warn;
events { worker_connections 256; }
http {
  access_log off;
  log_format sent '$bytes_sent';
  client_body_temp_path ${join(init.dir, 'tmp')};
  proxy_temp_path ${join(init.dir, 'tmp')};
  fastcgi_temp_path ${join(init.dir, 'tmp')};
  uwsgi_temp_path ${join(init.dir, 'tmp')};
  scgi_temp_path ${join(init.dir, 'tmp')};
  types { application/octet-stream bin; application/json json; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${init.root};
    access_log ${log} sent;
    autoindex on;
    autoindex_format json;
    ${init.limitRate ? `limit_rate ${init.limitRate};` : ''}
  }
}
`
  const confPath = join(init.dir, 'nginx.conf')
  await writeFile(confPath, conf)
  await writeFile(log, '')

  let child: ChildProcess | undefined

  const start = async () => {
    child = spawn('nginx', ['-e', join(init.dir, 'error.log'), '-c', confPath, '-p', init.dir], {
      stdio: 'ignore',
    })
    await waitForPort(port)
  }

  const stop = async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
  }

  await start()

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    start,
    stop,
    bytesSent: async () =>
      (await readFile(log, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .reduce((sum, line) => sum + Number(line), 0),
  }
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const open = await fetch(`http://127.0.0.1:${port}/`).then(
      () => true,
      () => false,
    )

    if (open) {
      return
    }

    await sleep(50)
  }

  throw new Error(`nginx did not start on port ${port}`)
}
