import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { generateReleaseKeys, keyFingerprint } from '../node/media/release-key.ts'
import { tempDir } from '../test/helpers/temp.ts'
import { onOff, resolveNodeSettings, settingsFromEnv } from './node-config.ts'

describe('node settings', () => {
  it('take slots and the release key from the environment, flags winning', async (t) => {
    const dir = await tempDir(t)
    const keys = generateReleaseKeys()
    await writeFile(`${dir}/release.key.pem`, keys.privatePem)

    const env = settingsFromEnv({
      PRESSMESH_NODE_SLOTS: '5',
      PRESSMESH_NODE_RELEASE_KEY: `${dir}/release.key.pem`,
    })
    const fromEnv = await resolveNodeSettings(env)
    assert.equal(fromEnv.config.slots, 5)
    assert.equal(keyFingerprint(fromEnv.config.releaseKey!).length, 16)

    const flagged = await resolveNodeSettings(env, { slots: 1 })
    assert.equal(flagged.config.slots, 1)
    assert.equal((await resolveNodeSettings({})).config.releaseKey, undefined)
  })

  it('refuse slots that are not a whole number from 1 to 64', async () => {
    await assert.rejects(resolveNodeSettings({ slots: Number('abc') }), /slots must be/)
    await assert.rejects(resolveNodeSettings({ slots: 0 }), /slots must be/)
    assert.throws(() => settingsFromEnv({ PRESSMESH_NODE_SLOTS: '1.5' }), /whole number/)
  })

  it('refuse a release key file that is missing', async (t) => {
    const dir = await tempDir(t)
    await assert.rejects(resolveNodeSettings({ releaseKey: `${dir}/none.pem` }), {
      code: 'KEY_NOT_FOUND',
    })
  })

  it('take direct writes as on or off from the environment, flags winning', async () => {
    assert.equal((await resolveNodeSettings({})).config.directWrites, undefined)

    const env = settingsFromEnv({ PRESSMESH_NODE_DIRECT_WRITES: 'off' })
    assert.equal((await resolveNodeSettings(env)).config.directWrites, false)
    assert.equal((await resolveNodeSettings(env, { directWrites: true })).config.directWrites, true)
    assert.equal(onOff('ON', '--direct-writes'), true)
    assert.throws(() => onOff('sometimes', '--direct-writes'), /must be on or off/)
  })
})
