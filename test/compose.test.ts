import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { requireTool } from './helpers/nginx.ts'
import { tempDir } from './helpers/temp.ts'

// No Docker engine runs here, so the multi-host compose file is checked by reading it: its
// services, that every pressmesh command and flag in it exists, that the hosts and ports it
// names line up, that what it mounts is there, and that its nginx configs pass `nginx -t`.

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(ROOT, 'cli/bin/pressmesh.js')

interface Service {
  build?: string
  image?: string
  command?: string[]
  volumes?: string[]
  depends_on?: string[]
  ports?: string[]
}

async function compose() {
  const text = await readFile(join(ROOT, 'docker-compose.mesh.yml'), 'utf8')
  return parse(text, { merge: true }) as {
    services: Record<string, Service>
    volumes: Record<string, unknown>
  }
}

function flag(command: string[], name: string): string | undefined {
  const i = command.indexOf(name)
  return i >= 0 ? command[i + 1] : undefined
}

test('compose: a coordinator, nodes at two sites, storage and media servers', async () => {
  const { services, volumes } = await compose()
  const nodes = Object.entries(services).filter(([, s]) => s.command?.[0] === 'node')
  assert.ok(services.coordinator.command?.[0] === 'coordinator')
  assert.ok(nodes.length >= 3)
  assert.deepEqual(
    new Set(nodes.map(([, s]) => flag(s.command!, '--site'))),
    new Set(['east', 'west']),
  )
  assert.ok(services.storage.image?.startsWith('nginx'))
  assert.ok(services.media.image?.startsWith('nginx'))

  // Every pressmesh command and flag exists: each flag appears in the command's usage text.
  for (const [name, service] of Object.entries(services)) {
    if (service.build === undefined) continue
    const [command, ...args] = service.command!
    const help = spawnSync(process.execPath, [BIN, command, '--help'], { encoding: 'utf8' })
    assert.equal(help.status, 0, `${name}: pressmesh ${command} --help`)
    for (const arg of args.filter((a) => a.startsWith('--'))) {
      assert.ok(help.stdout.includes(arg), `${name}: pressmesh ${command} has no ${arg}`)
    }
  }

  // Nodes reach the coordinator by service name and its API port; media go to the media service.
  const apiPort = flag(services.coordinator.command!, '--port')
  for (const [name, service] of nodes) {
    const url = new URL(flag(service.command!, '--coordinator')!)
    assert.equal(url.hostname, 'coordinator', name)
    assert.equal(url.port, apiPort, name)
    assert.ok(service.depends_on?.includes('coordinator'), name)
  }
  assert.equal(new URL(flag(services.coordinator.command!, '--media')!).hostname, 'media')
  assert.ok(flag(services.coordinator.command!, '--listen')?.startsWith('/ip4/0.0.0.0/tcp/'))

  // Named volumes are declared; mounted files exist; host ports bind to loopback only.
  for (const [name, service] of Object.entries(services)) {
    for (const volume of service.volumes ?? []) {
      const [source] = volume.split(':')
      if (source.startsWith('./deploy/')) {
        assert.ok(existsSync(join(ROOT, source)), `${name}: ${source}`)
      } else if (!source.startsWith('.')) {
        assert.ok(source in volumes, `${name}: volume ${source} is not declared`)
      }
    }
    for (const port of service.ports ?? []) {
      assert.match(port, /^127\.0\.0\.1:/, `${name} publishes ${port} beyond loopback`)
    }
  }
})

test('the Dockerfile copies what exists and runs the pressmesh command', async () => {
  const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8')
  for (const match of dockerfile.matchAll(/^COPY (\S+)(?: (\S+))? \S+$/gm)) {
    for (const path of [match[1], match[2]].filter(Boolean)) {
      assert.ok(existsSync(join(ROOT, path!)), `COPY ${path}`)
    }
  }
  assert.match(dockerfile, /ENTRYPOINT \["node", "cli\/bin\/pressmesh\.js"\]/)
})

test("the storage and media servers' nginx configs pass nginx -t", async (t) => {
  requireTool('nginx', 'nginx-light')
  const dir = await tempDir(t, 'pressmesh-compose-')
  for (const name of ['storage', 'media']) {
    const conf = join(dir, `${name}.conf`)
    await writeFile(
      conf,
      `pid ${join(dir, `${name}.pid`)};\nerror_log ${join(dir, 'error.log')};\nevents {}\n` +
        `http { access_log off; include ${join(ROOT, 'deploy', `${name}.nginx.conf`)}; }\n`,
    )
    const checked = spawnSync(
      'nginx',
      ['-t', '-c', conf, '-p', dir, '-e', join(dir, 'error.log')],
      {
        encoding: 'utf8',
      },
    )
    assert.equal(checked.status, 0, `${name}: ${checked.stderr}`)
  }
})
