import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { readdir, readFile, stat } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { freePort } from './helpers/nginx.ts'
import { tempDir } from './helpers/temp.ts'

// `npm start` is `pressmesh dev`: the whole local mesh as real processes. It must make the
// sample media, print where they are, stop everything on Ctrl-C, and reuse its data next time.

const BIN = fileURLToPath(new URL('../cli/bin/pressmesh.js', import.meta.url))

interface Run {
  child: ChildProcess
  lines: string[]
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string>
}

function startDev(args: string[]): Run {
  const child = spawn(process.execPath, [BIN, 'dev', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line)
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(line)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(line)
      }
    }
  })
  let stderr = ''
  child.stderr?.on('data', (data) => {
    stderr = (stderr + data).slice(-4000)
  })

  return {
    child,
    lines,
    waitFor: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const found = lines.find((line) => pattern.test(line))
        if (found) return resolve(found)
        const timer = setTimeout(
          () =>
            reject(
              new Error(`no line ${pattern} in ${timeoutMs} ms:\n${lines.join('\n')}\n${stderr}`),
            ),
          timeoutMs,
        )
        child.once('exit', (code) =>
          reject(new Error(`dev exited with ${code}:\n${lines.join('\n')}\n${stderr}`)),
        )
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer)
            resolve(line)
          },
        })
      }),
  }
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

async function interrupt(run: Run): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) =>
    run.child.once('exit', (code) => resolve(code)),
  )
  run.child.kill('SIGINT')
  return exited
}

test('pressmesh dev runs the local mesh, makes sample media, stops on Ctrl-C', async (t) => {
  const data = await tempDir(t, 'pressmesh-dev-')
  const ports = [await freePort(), await freePort(), await freePort()]
  const args = [
    '--data',
    data,
    '--port',
    String(ports[0]),
    '--mesh-port',
    String(ports[1]),
    '--storage-port',
    String(ports[2]),
  ]

  const first = startDev(args)
  t.after(() => first.child.kill('SIGKILL'))
  await first.waitFor(/^running;/, 600_000)
  const output = first.lines.join('\n')

  assert.match(output, new RegExp(`dashboard: +http://127\\.0\\.0\\.1:${ports[0]}/`))
  const token = /admin token: (pm_\S+)/.exec(output)?.[1]
  assert.ok(token, output)
  assert.equal((await readFile(join(data, 'admin-token'), 'utf8')).trim(), token)
  assert.equal((await stat(join(data, 'admin-token'))).mode & 0o777, 0o600)

  // The media landed where it says, signed, and the tar reads back.
  const media = [...output.matchAll(/^media: +(\S+) → (\S+)$/gm)].map((m) => ({
    format: m[1],
    dir: m[2],
  }))
  assert.deepEqual(media.map((m) => m.format).sort(), ['iso', 'tar'])
  for (const { format, dir } of media) {
    const names = (await readdir(dir)).sort()
    assert.deepEqual(names, [
      'BLAKE3SUMS',
      'SHA256SUMS',
      'SHA256SUMS.sig',
      `sample-1.0.0.${format}`,
    ])
  }
  const tar = media.find((m) => m.format === 'tar')!
  const listing = spawnSync('tar', ['-tf', join(tar.dir, 'sample-1.0.0.tar')], { encoding: 'utf8' })
  assert.equal(listing.status, 0)
  assert.match(listing.stdout, /setup\.exe/)

  // The API answers with the token it printed; three nodes are there, two of them production.
  const nodes = (await (
    await fetch(`http://127.0.0.1:${ports[0]}/api/v1/nodes`, {
      headers: { authorization: `Bearer ${token}` },
    })
  ).json()) as { nodes: { roles: string[]; alive: boolean }[] }
  assert.equal(nodes.nodes.filter((n) => n.alive).length, 3)
  assert.equal(nodes.nodes.filter((n) => n.roles.includes('production')).length, 2)

  // Ctrl-C stops every process it started.
  assert.equal(await interrupt(first), 0)
  for (const port of ports) {
    assert.equal(await portOpen(port), false, `port ${port} still open`)
  }
  const leftovers = spawnSync('pgrep', ['-f', data], { encoding: 'utf8' }).stdout.trim()
  assert.equal(leftovers, '', `processes left: ${leftovers}`)

  // A second run reuses the data: same token, the first run's job, no new media.
  const second = startDev(args)
  t.after(() => second.child.kill('SIGKILL'))
  await second.waitFor(/^running;/, 300_000)
  const again = second.lines.join('\n')
  assert.match(again, /\(from an earlier run\)/)
  assert.ok(again.includes(token))
  assert.equal((await readdir(join(data, 'media', 'sample', '1.0.0'))).length, 1)
  assert.equal(await interrupt(second), 0)
})
