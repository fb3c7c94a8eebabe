import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { NODE_MALLOC_TUNABLES, withMallocTuning } from './heap-tuning.ts'

const LOADER = '/lib64/ld-linux-x86-64.so.2'

describe('malloc tuning for node processes', () => {
  it('is added to a child environment that has none, and leaves one that has its own', () => {
    assert.equal(withMallocTuning({ PATH: '/bin' }).GLIBC_TUNABLES, NODE_MALLOC_TUNABLES)
    assert.equal(withMallocTuning({ PATH: '/bin' }).PATH, '/bin')
    assert.equal(
      withMallocTuning({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }).GLIBC_TUNABLES,
      'glibc.malloc.arena_max=2',
    )
    assert.equal(withMallocTuning({ PRESSMESH_MALLOC_TUNING: 'off' }).GLIBC_TUNABLES, undefined)
  })

  it('names tunables that glibc takes, with the intended values', (t) => {
    // glibc ignores a tunable it does not know, so a misspelt one would silently do nothing.
    if (!existsSync(LOADER)) {
      t.skip(`no glibc loader at ${LOADER}`)
      return
    }
    const listed = spawnSync(LOADER, ['--list-tunables'], {
      env: { GLIBC_TUNABLES: NODE_MALLOC_TUNABLES },
      encoding: 'utf8',
    })
    assert.equal(listed.status, 0, listed.stderr)
    const value = (name: string) =>
      Number(new RegExp(`^glibc\\.malloc\\.${name}: (0x[0-9a-f]+)`, 'm').exec(listed.stdout)?.[1])
    assert.equal(value('mmap_threshold'), 8 * 1024 * 1024)
    assert.equal(value('trim_threshold'), 512 * 1024 * 1024)
  })

  it('is the one the container image sets', () => {
    const dockerfile = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8')
    assert.match(dockerfile, new RegExp(`^ENV GLIBC_TUNABLES=${NODE_MALLOC_TUNABLES}$`, 'm'))
  })
})
