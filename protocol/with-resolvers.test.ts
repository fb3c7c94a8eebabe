import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { it } from 'node:test'

it('supplies Promise.withResolvers where the runtime lacks it', () => {
  const module = new URL('./with-resolvers.ts', import.meta.url).href
  const script = `
    delete Promise.withResolvers
    await import(${JSON.stringify(module)})
    const { promise, resolve } = Promise.withResolvers()
    resolve(42)
    console.log(await promise)
  `
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    { encoding: 'utf8' },
  )

  assert.equal(run.status, 0, run.stderr)
  assert.equal(run.stdout.trim(), '42')
})
