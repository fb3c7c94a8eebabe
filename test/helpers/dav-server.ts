import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { TestContext } from 'node:test'
import { freePort } from './nginx.ts'
import { tempDir } from './temp.ts'

// A real nginx (Debian nginx-light, whose dav module takes PUT, DELETE, MKCOL, COPY and MOVE)
// serving a temporary folder on a free 127.0.0.1 port, unprivileged, in the foreground. It can
// be stopped and started again on the same port; it is stopped when the test ends.

export interface DavServer {
  url: string
  root: string
  start(): Promise<void>
  stop(): Promise<void>
}

export async function startDavServer(t: TestContext): Promise<DavServer> {
  const prefix = await tempDir(t, 'pressmesh-nginx-')
  const root = join(prefix, 'www')
  const port = await freePort()
  await mkdir(root)
  await mkdir(join(prefix, 'body'))
  await writeFile(join(prefix, 'nginx.conf'), config(prefix, root, port))
  let child: ChildProcess | undefined

  const nginx: DavServer = {
    url: `http://127.0.0.1:${port}/`,
    root,
    start: async () => {
      child = spawn(
        'nginx',
        ['-e', join(prefix, 'error.log'), '-c', join(prefix, 'nginx.conf'), '-p', prefix],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      )
      child.on('error', () => undefined)
      await waitForPort(port, child)
    },
    stop: async () => {
      const running = child
      child = undefined

      if (running !== undefined && running.exitCode === null) {
        // SIGTERM is nginx's fast shutdown: the workers drop every connection and exit, then
        // the master (a SIGKILL would take the master only and leave its worker serving).
        running.kill('SIGTERM')
        await once(running, 'exit')
      }
    },
  }

  t.after(() => nginx.stop())
  await nginx.start()
  return nginx
}

function config(prefix: string, root: string, port: number): string {
  // As root, nginx would hand requests to "nobody", who may not write the temporary folder.
  const user = process.getuid?.() === 0 ? 'user root root;\n' : ''

  return `${user}daemon off;
worker_processes 1;
pid ${prefix}/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/body;
  fastcgi_temp_path ${prefix}/body;
  uwsgi_temp_path ${prefix}/body;
  scgi_temp_path ${prefix}/body;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    client_max_body_size 0;
    location / {
      dav_methods PUT DELETE MKCOL COPY MOVE;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }
  }
}
`
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  let stderr = ''
  child.stderr?.on('data', (data) => {
    stderr += data
  })

  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null || (child as { spawnfile?: string }).spawnfile === undefined) {
      break
    }

    const ok = await fetch(`http://127.0.0.1:${port}/`, { method: 'HEAD' }).then(
      () => true,
      () => false,
    )
    if (ok) {
      return
    }

    await sleep(50)
  }

  const missing = child.exitCode === null && stderr === '' ? '' : stderr
  throw new Error(
    `nginx did not start on port ${port} (install the Debian package nginx-light): ${missing}`,
  )
}
