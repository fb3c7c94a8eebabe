import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { isPressmeshError } from '../../protocol/errors.ts'
import { tempDir } from '../../test/helpers/temp.ts'
import { DEFAULT_COORDINATOR, resolveSettings } from './settings.ts'

async function place(dir: string, path: string, text: string): Promise<string> {
  const file = join(dir, path)
  await mkdir(join(file, '..'), { recursive: true })
  await writeFile(file, text)
  return file
}

describe('the client settings', () => {
  it('defaults to the local coordinator and the admin token npm start writes', async (t) => {
    const dir = await tempDir(t)
    const home = join(dir, 'home')
    const cwd = join(dir, 'checkout')
    await place(cwd, '.pressmesh/admin-token', 'dev-admin-secret\n')

    const settings = await resolveSettings({}, { env: {}, cwd, home })
    assert.deepEqual(settings, {
      coordinator: DEFAULT_COORDINATOR,
      token: 'dev-admin-secret',
      tokenSource: join(cwd, '.pressmesh', 'admin-token'),
    })

    const none = await resolveSettings({}, { env: {}, cwd: home, home })
    assert.deepEqual(none, { coordinator: DEFAULT_COORDINATOR })
  })

  it('lets flags beat the environment, and the environment beat the config file', async (t) => {
    const dir = await tempDir(t)
    const config = JSON.stringify({ coordinator: 'http://config:1/', tokenFile: 'config-token' })
    await place(dir, 'xdg/pressmesh/client.json', config)
    await place(dir, 'xdg/pressmesh/config-token', 'from-config-file\nsecond line\n')
    await place(dir, '.pressmesh/admin-token', 'dev-admin-secret\n')
    await place(dir, 'env-token', 'from-env-file\n')
    const env = { XDG_CONFIG_HOME: join(dir, 'xdg') }
    const at = { cwd: dir, home: join(dir, 'home') }

    const fromConfig = await resolveSettings({}, { env, ...at })
    assert.equal(fromConfig.coordinator, 'http://config:1')
    assert.equal(fromConfig.token, 'from-config-file')

    const fromEnv = await resolveSettings(
      {},
      {
        env: { ...env, PRESSMESH_COORDINATOR: 'https://env:2', PRESSMESH_TOKEN_FILE: 'env-token' },
        ...at,
      },
    )
    assert.equal(fromEnv.coordinator, 'https://env:2')
    assert.equal(fromEnv.token, 'from-env-file')

    const fromFlags = await resolveSettings(
      { coordinator: 'http://flag:3', token: 'from-flag' },
      { env: { ...env, PRESSMESH_COORDINATOR: 'https://env:2', PRESSMESH_TOKEN: 'x' }, ...at },
    )
    assert.equal(fromFlags.coordinator, 'http://flag:3')
    assert.equal(fromFlags.token, 'from-flag')
  })

  it('reads --config instead of the default file', async (t) => {
    const dir = await tempDir(t)
    const file = await place(dir, 'other.json', '{"coordinator":"http://other:4","token":"t4"}')

    const settings = await resolveSettings({ config: file }, { env: {}, cwd: dir, home: dir })
    assert.equal(settings.coordinator, 'http://other:4')
    assert.equal(settings.token, 't4')
  })

  it('refuses a malformed config file, naming the file and the field', async (t) => {
    const dir = await tempDir(t)
    const cases: [string, RegExp][] = [
      ['{"coordinator": ', /client\.json is not JSON/],
      ['{"coordinator":"http://x","secret":"y"}', /client\.json: Unrecognized key: "secret"/],
      ['{"coordinator":"ftp://x"}', /client\.json: coordinator: an http:\/\/ or https:\/\/ URL/],
      ['{"token":""}', /client\.json: token: /],
    ]

    for (const [text, message] of cases) {
      const file = await place(dir, 'xdg/pressmesh/client.json', text)
      const env = { XDG_CONFIG_HOME: join(dir, 'xdg') }

      await assert.rejects(resolveSettings({}, { env, cwd: dir, home: dir }), (err: unknown) => {
        assert.ok(isPressmeshError(err, 'CONFIG_INVALID'), String(err))
        assert.match(err.message, message)
        assert.ok(err.message.includes(file))
        return true
      })
    }
  })

  it('refuses a missing --config, a missing or empty token file and a bad URL', async (t) => {
    const dir = await tempDir(t)
    const empty = await place(dir, 'empty-token', '\n')
    const at = { env: {}, cwd: dir, home: dir }
    const refusals: [Parameters<typeof resolveSettings>[0], string][] = [
      [{ config: 'missing.json' }, 'CONFIG_NOT_FOUND'],
      [{ 'token-file': 'missing-token' }, 'TOKEN_FILE_NOT_FOUND'],
      [{ 'token-file': empty }, 'TOKEN_FILE_EMPTY'],
      [{ token: 'a', 'token-file': empty }, 'CLIENT_USAGE'],
      [{ coordinator: '127.0.0.1:8080' }, 'CLIENT_BAD_COORDINATOR'],
    ]

    for (const [flags, code] of refusals) {
      await assert.rejects(resolveSettings(flags, at), (err: unknown) =>
        isPressmeshError(err, code),
      )
    }
  })
})
