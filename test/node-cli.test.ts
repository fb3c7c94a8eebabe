import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { readPsk } from '../protocol/mesh/keys.ts'
import { startNode } from './helpers/mesh.ts'
import { pseudoRandomBytes } from './helpers/random.ts'

const BIN = fileURLToPath(new URL('../cli/bin/pressmesh.js', import.meta.url))

function pressmesh(args: string[]) {
  const run = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' })
  return { code: run.status, stdout: run.stdout, stderr: run.stderr }
}

describe('the node from the command line', () => {
  it('fetches by hand, keeps its peer id across restarts and resumes from its store', async (t) => {
    const work = await mkdtemp(join(tmpdir(), 'pressmesh-node-cli-'))
    t.after(() => rm(work, { recursive: true, force: true }))
    await mkdir(join(work, 'master'))
    await writeFile(join(work, 'master', 'setup.exe'), pseudoRandomBytes(6 * 1024 * 1024, 2))
    const master = `file://${join(work, 'master')}`

    const first = await startNode({ name: 'n', dataDir: join(work, 'node') })
    const run = pressmesh(['fetch', master, '--node', first.http, '--json'])
    await first.kill()
    assert.equal(run.code, 0, run.stderr)
    const report = JSON.parse(run.stdout)
    assert.match(report.manifest, /^[0-9a-f]{64}$/)
    assert.equal(report.totalBytes, 6 * 1024 * 1024)

    const second = await startNode({ name: 'n', dataDir: join(work, 'node') })
    t.after(() => second.kill())
    assert.equal(second.peerId, first.peerId)
    const again = await second.fetch(master)
    assert.equal(again.manifest, report.manifest)
    assert.equal(again.report.local, 6 * 1024 * 1024)
    assert.equal(again.report.fromOrigin + again.report.fromPeers, 0)

    const health = await (await fetch(`${second.http}/health`)).json()
    assert.equal(health.status, 'ok')
    assert.equal(health.peerId, second.peerId)
  })

  it('writes a network key only its owner can read', async (t) => {
    const work = await mkdtemp(join(tmpdir(), 'pressmesh-keygen-'))
    t.after(() => rm(work, { recursive: true, force: true }))
    const run = pressmesh(['keygen', '--psk', '--out', join(work, 'swarm.key')])

    assert.equal(run.code, 0, run.stderr)
    assert.equal((await stat(join(work, 'swarm.key'))).mode & 0o777, 0o600)
    assert.equal((await readPsk(join(work, 'swarm.key'))).length > 64, true)
  })

  it('refuses bad settings with one line and exit status 2', async (t) => {
    const work = await mkdtemp(join(tmpdir(), 'pressmesh-node-bad-'))
    t.after(() => rm(work, { recursive: true, force: true }))
    await writeFile(join(work, 'bad.key'), 'not a key')
    await writeFile(join(work, 'bad.json'), '{"site": 5}')

    for (const args of [
      ['node', '--psk', join(work, 'bad.key')],
      ['node', '--config', join(work, 'bad.json')],
      ['node', '--roles', 'chef'],
      ['fetch', 'file:///x'],
      ['fetch', 'file:///x', '--node', 'http://127.0.0.1:1'],
    ]) {
      const run = pressmesh(
        [...args, '--data', join(work, 'data')].slice(
          0,
          args[0] === 'node' ? undefined : args.length,
        ),
      )
      assert.notEqual(run.code, 0, args.join(' '))
      assert.doesNotMatch(run.stderr, /^\s+at /m, `${args.join(' ')} printed a stack trace`)
    }
  })
})
