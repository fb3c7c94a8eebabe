import assert from 'node:assert/strict'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { Role } from '../protocol/api.ts'
import { tempDir } from '../test/helpers/temp.ts'
import { ROUTES } from './api.ts'
import { Coordinator } from './coordinator.ts'

// The API against a real coordinator (LevelDB on disk, a libp2p host on loopback), over HTTP.

async function startCoordinator(t: import('node:test').TestContext, dir?: string) {
  const dataDir = dir ?? (await tempDir(t, 'pressmesh-coord-'))
  const coordinator = await Coordinator.start({
    dataDir,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    httpHost: '127.0.0.1',
    httpPort: 0,
    media: join(dataDir, 'media'),
  })
  t.after(() => coordinator.stop())
  return coordinator
}

interface Call {
  status: number
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field
  body: any
}

function client(base: string) {
  return async (method: string, path: string, token?: string, body?: unknown): Promise<Call> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    })
    const text = await response.text()
    let parsed: unknown = text
    try {
      parsed = JSON.parse(text)
    } catch {
      // not JSON (metrics, html)
    }
    return { status: response.status, body: parsed }
  }
}

const SAMPLE_JOB = {
  product: 'sample',
  version: '1.0.0',
  master: 'http://127.0.0.1:9/master/',
  media: [{ format: 'tar' }],
}

describe('coordinator API', () => {
  test('first start creates an admin token readable by its owner only, once', async (t) => {
    const dir = await tempDir(t, 'pressmesh-coord-')
    const first = await Coordinator.start({
      dataDir: dir,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      httpHost: '127.0.0.1',
      httpPort: 0,
      media: join(dir, 'media'),
    })
    const token = first.createdAdminToken
    assert.match(token ?? '', /^pm_[A-Za-z0-9_-]{43}$/)
    const info = await stat(join(dir, 'admin-token'))
    assert.equal(info.mode & 0o777, 0o600)
    await first.stop()

    const second = await startCoordinator(t, dir)
    assert.equal(second.createdAdminToken, undefined)
    const call = client(second.url)
    assert.equal((await call('GET', '/api/v1/jobs', token)).status, 200)
  })

  test('every role against every route', async (t) => {
    const coordinator = await startCoordinator(t)
    const call = client(coordinator.url)
    const admin = coordinator.createdAdminToken!
    const tokens: Record<Role, string> = { admin } as Record<Role, string>
    for (const role of ['release-engineer', 'operator', 'viewer'] as Role[]) {
      const created = await call('POST', '/api/v1/tokens', admin, { name: `t-${role}`, role })
      assert.equal(created.status, 201)
      tokens[role] = created.body.token
    }

    const { body: submitted } = await call('POST', '/api/v1/jobs', admin, SAMPLE_JOB)
    const jobId = submitted.job.id
    const { body: extra } = await call('POST', '/api/v1/tokens', admin, {
      name: 'x',
      role: 'viewer',
    })

    // What each route needs; the request is valid, so the only refusals are auth ones.
    const requests: { method: string; path: string; body?: unknown; needs: Role; ok: number[] }[] =
      [
        {
          method: 'POST',
          path: '/api/v1/jobs',
          body: SAMPLE_JOB,
          needs: 'release-engineer',
          ok: [201],
        },
        { method: 'GET', path: '/api/v1/jobs', needs: 'viewer', ok: [200] },
        { method: 'GET', path: `/api/v1/jobs/${jobId}`, needs: 'viewer', ok: [200] },
        {
          method: 'POST',
          path: `/api/v1/jobs/${jobId}/cancel`,
          needs: 'release-engineer',
          ok: [200],
        },
        { method: 'GET', path: '/api/v1/nodes', needs: 'viewer', ok: [200] },
        {
          method: 'POST',
          path: `/api/v1/nodes/${'1'.repeat(20)}/drain`,
          body: { drain: true },
          needs: 'operator',
          ok: [404],
        },
        { method: 'GET', path: '/api/v1/tokens', needs: 'admin', ok: [200] },
        {
          method: 'POST',
          path: '/api/v1/tokens',
          body: { name: 'y', role: 'viewer' },
          needs: 'admin',
          ok: [201],
        },
        { method: 'DELETE', path: `/api/v1/tokens/${extra.id}`, needs: 'admin', ok: [200] },
      ]
    const grants: Record<Role, Role[]> = {
      admin: ['admin', 'release-engineer', 'operator', 'viewer'],
      'release-engineer': ['release-engineer', 'viewer'],
      operator: ['operator', 'viewer'],
      viewer: ['viewer'],
    }

    // Every route of the table is covered.
    assert.deepEqual(
      new Set(
        ROUTES.filter((r) => r.path !== '/api/v1/events' && r.role !== 'public').map(
          (r) => `${r.method.toUpperCase()} ${r.path}`,
        ),
      ),
      new Set(
        requests.map(
          (r) =>
            `${r.method} ${r.path
              .replace(jobId, ':id')
              .replace('1'.repeat(20), ':peer')
              .replace(extra.id, ':id')}`,
        ),
      ),
    )

    for (const request of requests) {
      const anonymous = await call(request.method, request.path, undefined, request.body)
      assert.equal(anonymous.status, 401, `${request.method} ${request.path} without a token`)
      assert.equal(anonymous.body.error.code, 'UNAUTHENTICATED')
      const wrong = await call(request.method, request.path, 'pm_not-a-real-token', request.body)
      assert.equal(wrong.status, 401)

      for (const role of Object.keys(tokens) as Role[]) {
        const answer = await call(request.method, request.path, tokens[role], request.body)
        if (grants[role].includes(request.needs)) {
          assert.ok(
            request.ok.includes(answer.status),
            `${role} ${request.method} ${request.path}: ${answer.status} ` +
              JSON.stringify(answer.body),
          )
        } else {
          assert.equal(answer.status, 403, `${role} ${request.method} ${request.path}`)
          assert.equal(answer.body.error.code, 'FORBIDDEN')
        }
      }
    }

    // The event stream is guarded too.
    assert.equal((await call('GET', '/api/v1/events')).status, 401)

    // A revoked token stops working at once.
    const listed = await call('GET', '/api/v1/tokens', admin)
    const viewer = listed.body.tokens.find((x: { name: string }) => x.name === 't-viewer')
    const revoked = await call('DELETE', `/api/v1/tokens/${viewer.id}`, admin)
    assert.equal(revoked.status, 200)
    assert.equal((await call('GET', '/api/v1/jobs', tokens.viewer)).status, 401)
  })

  test('malformed, unknown-field, huge bodies and bad ids get a 4xx with a code', async (t) => {
    const coordinator = await startCoordinator(t)
    const call = client(coordinator.url)
    const admin = coordinator.createdAdminToken!

    const cases: { method: string; path: string; body?: unknown; status: number; code: string }[] =
      [
        { method: 'POST', path: '/api/v1/jobs', body: '{not json', status: 400, code: 'BAD_JSON' },
        { method: 'POST', path: '/api/v1/jobs', body: '', status: 400, code: 'BAD_JSON' },
        { method: 'POST', path: '/api/v1/jobs', body: [], status: 400, code: 'INVALID_BODY' },
        {
          method: 'POST',
          path: '/api/v1/jobs',
          body: { ...SAMPLE_JOB, surprise: 1 },
          status: 400,
          code: 'INVALID_BODY',
        },
        {
          method: 'POST',
          path: '/api/v1/jobs',
          body: { ...SAMPLE_JOB, media: [] },
          status: 400,
          code: 'INVALID_BODY',
        },
        {
          method: 'POST',
          path: '/api/v1/jobs',
          body: { ...SAMPLE_JOB, media: [{ format: 'zip' }] },
          status: 400,
          code: 'INVALID_BODY',
        },
        {
          method: 'POST',
          path: '/api/v1/jobs',
          body: { ...SAMPLE_JOB, master: '/etc/passwd' },
          status: 400,
          code: 'INVALID_BODY',
        },
        {
          method: 'POST',
          path: '/api/v1/jobs',
          body: { ...SAMPLE_JOB, product: '../x' },
          status: 400,
          code: 'INVALID_BODY',
        },
        {
          method: 'POST',
          path: '/api/v1/jobs',
          body: { ...SAMPLE_JOB, priority: 99 },
          status: 400,
          code: 'INVALID_BODY',
        },
        {
          method: 'POST',
          path: '/api/v1/jobs',
          body: { ...SAMPLE_JOB, media: [{ format: 'tar', disc: 'dvd5' }] },
          status: 400,
          code: 'INVALID_BODY',
        },
        {
          method: 'POST',
          path: '/api/v1/jobs',
          body: { ...SAMPLE_JOB, kind: 'preheat', media: undefined },
          status: 400,
          code: 'INVALID_BODY',
        },
        {
          method: 'POST',
          path: '/api/v1/jobs',
          body: { ...SAMPLE_JOB, kind: 'preheat', media: undefined, preheat: { all: true } },
          status: 409,
          code: 'NO_MATCHING_NODES',
        },
        {
          method: 'POST',
          path: '/api/v1/jobs',
          body: 'x'.repeat(300_000),
          status: 413,
          code: 'BODY_TOO_LARGE',
        },
        { method: 'GET', path: '/api/v1/jobs/nope', status: 400, code: 'BAD_ID' },
        {
          method: 'GET',
          path: '/api/v1/jobs/j000000000aaaaaaaaaa',
          status: 404,
          code: 'JOB_NOT_FOUND',
        },
        {
          method: 'POST',
          path: '/api/v1/jobs/j000000000aaaaaaaaaa/cancel',
          status: 404,
          code: 'JOB_NOT_FOUND',
        },
        { method: 'GET', path: '/api/v1/jobs?limit=0', status: 400, code: 'INVALID_QUERY' },
        { method: 'GET', path: '/api/v1/jobs?state=weird', status: 400, code: 'INVALID_QUERY' },
        { method: 'GET', path: '/api/v1/jobs?bogus=1', status: 400, code: 'INVALID_QUERY' },
        { method: 'GET', path: '/api/v1/events?job=../x', status: 400, code: 'BAD_ID' },
        {
          method: 'POST',
          path: '/api/v1/nodes/!!/drain',
          body: { drain: true },
          status: 400,
          code: 'BAD_ID',
        },
        {
          method: 'POST',
          path: `/api/v1/nodes/${'1'.repeat(20)}/drain`,
          body: { drain: 'yes' },
          status: 400,
          code: 'INVALID_BODY',
        },
        {
          method: 'POST',
          path: '/api/v1/tokens',
          body: { name: 'a', role: 'root' },
          status: 400,
          code: 'INVALID_BODY',
        },
        {
          method: 'DELETE',
          path: '/api/v1/tokens/t000000000000',
          status: 404,
          code: 'TOKEN_NOT_FOUND',
        },
        { method: 'DELETE', path: '/api/v1/tokens/zzz', status: 400, code: 'BAD_ID' },
        { method: 'GET', path: '/api/v1/nothing', status: 404, code: 'NOT_FOUND' },
        { method: 'PUT', path: '/api/v1/jobs', status: 404, code: 'NOT_FOUND' },
      ]

    for (const c of cases) {
      const answer = await call(c.method, c.path, admin, c.body).catch((err) => {
        throw new Error(`${c.method} ${c.path}: ${err.cause ?? err}`)
      })
      assert.equal(
        answer.status,
        c.status,
        `${c.method} ${c.path} ${JSON.stringify(c.body)?.slice(0, 80)}: ` +
          JSON.stringify(answer.body),
      )
      assert.equal(answer.body.error.code, c.code, `${c.method} ${c.path}`)
      assert.equal(typeof answer.body.error.message, 'string')
      assert.deepEqual(Object.keys(answer.body), ['error'])
    }

    // Still serving.
    assert.equal((await call('GET', '/health')).status, 200)
    assert.equal((await call('GET', '/api/v1/jobs', admin)).status, 200)
  })

  test('idempotency keys: 50 concurrent submissions with one key make one job', async (t) => {
    const coordinator = await startCoordinator(t)
    const call = client(coordinator.url)
    const admin = coordinator.createdAdminToken!
    const body = { ...SAMPLE_JOB, idempotencyKey: 'release-42' }

    const answers = await Promise.all(
      Array.from({ length: 50 }, () => call('POST', '/api/v1/jobs', admin, body)),
    )
    const ids = new Set(answers.map((a) => a.body.job.id))
    assert.equal(ids.size, 1)
    assert.equal(answers.filter((a) => a.status === 201).length, 1)
    assert.equal(answers.filter((a) => a.status === 200).length, 49)
    const list = await call('GET', '/api/v1/jobs', admin)
    assert.equal(list.body.jobs.length, 1)
  })

  test('paging lists every job once, newest first', async (t) => {
    const coordinator = await startCoordinator(t)
    const call = client(coordinator.url)
    const admin = coordinator.createdAdminToken!
    const submitted: string[] = []
    for (let i = 0; i < 25; i++) {
      submitted.push(
        (await call('POST', '/api/v1/jobs', admin, { ...SAMPLE_JOB, version: `1.${i}` })).body.job
          .id,
      )
    }

    const seen: string[] = []
    let cursor: string | undefined
    for (let page = 0; page < 10; page++) {
      const answer = await call(
        'GET',
        `/api/v1/jobs?limit=10${cursor ? `&cursor=${cursor}` : ''}`,
        admin,
      )
      seen.push(...answer.body.jobs.map((j: { id: string }) => j.id))
      cursor = answer.body.next
      if (cursor === undefined) break
    }
    assert.deepEqual(seen, [...submitted].reverse())

    const filtered = await call('GET', '/api/v1/jobs?state=queued&product=sample&limit=5', admin)
    assert.equal(filtered.body.jobs.length, 5)
  })

  test('the OpenAPI document matches the routes', async (t) => {
    const coordinator = await startCoordinator(t)
    const call = client(coordinator.url)
    const { status, body } = await call('GET', '/api/v1/openapi.json')
    assert.equal(status, 200)
    assert.equal(body.openapi, '3.1.0')

    const documented = new Set<string>()
    for (const [path, methods] of Object.entries(body.paths as Record<string, object>)) {
      for (const method of Object.keys(methods)) {
        documented.add(`${method.toUpperCase()} ${path}`)
      }
    }
    const served = new Set(
      ROUTES.map((r) => `${r.method.toUpperCase()} ${r.path.replace(/:([a-z]+)/g, '{$1}')}`),
    )
    served.add('GET /api/v1/openapi.json')
    assert.deepEqual(documented, served)

    // Each documented route answers (with auth refused rather than 404).
    for (const entry of documented) {
      const [method, path] = entry.split(' ')
      const concrete = path
        .replace('{id}', 'j000000000aaaaaaaaaa')
        .replace('{peer}', '1'.repeat(20))
      const answer = await call(method, concrete)
      assert.notEqual(answer.status, 404, entry)
    }

    const submit = body.paths['/api/v1/jobs'].post
    assert.ok(submit.requestBody.content['application/json'].schema.properties.media)
    assert.equal(submit['x-required-role'], 'release-engineer')
  })

  test('metrics and the dashboard page are served', async (t) => {
    const coordinator = await startCoordinator(t)
    const call = client(coordinator.url)
    await call('GET', '/api/v1/jobs', coordinator.createdAdminToken)
    const metrics = await call('GET', '/metrics')
    assert.equal(metrics.status, 200)
    assert.match(
      metrics.body,
      /pressmesh_http_requests_total\{method="GET",route="\/api\/v1\/jobs",status="200"\} 1/,
    )
    assert.match(metrics.body, /pressmesh_tasks_queued/)
    const page = await call('GET', '/')
    assert.equal(page.status, 200)
    assert.match(page.body, /Pressmesh/)
  })
})
