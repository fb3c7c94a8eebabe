import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { jobSubmitSchema } from '../protocol/jobs.ts'
import { tempDir } from '../test/helpers/temp.ts'
import { CoordinatorDb } from './db.ts'
import { JobBook } from './job-book.ts'

// The job and task state machines against a real LevelDB, without a mesh.

const LEASE = 10_000

async function openBook(t: import('node:test').TestContext, dir?: string) {
  const path = dir ?? join(await tempDir(t, 'pressmesh-book-'), 'db')
  const db = await CoordinatorDb.open(path)
  const book = await JobBook.open(db, LEASE)
  return { db, book, path }
}

const publish = jobSubmitSchema.parse({
  product: 'p',
  version: '1',
  master: 'http://127.0.0.1:9/m/',
  media: [{ format: 'tar' }, { format: 'iso' }],
})

describe('job book', () => {
  test('publish: fetch, then the packs, then succeeded; the record survives', async (t) => {
    const { db, book, path } = await openBook(t)
    const { job } = await book.submit(publish, 'alice')
    assert.equal(job.state, 'queued')
    assert.deepEqual(job.tasks, { queued: 1, waiting: 2 })

    const [fetch, tar, iso] = book.tasksOf(book.jobs.get(job.id)!)
    assert.deepEqual(
      [...book.queued()].map((task) => task.id),
      [fetch.id],
    )
    await book.assign(fetch, 'node-a', LEASE)
    assert.equal((await book.view(job.id)).state, 'running')
    book.renew(fetch, { phase: 'fetching', done: 1, total: 2 }, LEASE)
    assert.equal(fetch.state, 'running')
    await book.finish(fetch, 'succeeded', { output: { manifest: 'a'.repeat(64) } })
    assert.deepEqual(
      [...book.queued()].map((task) => task.id),
      [tar.id, iso.id],
    )

    await book.assign(tar, 'node-a', LEASE)
    await book.assign(iso, 'node-b', LEASE)
    assert.equal(book.heldOn('node-a'), 1)
    await book.finish(tar, 'succeeded', { output: { location: '/media/tar' } })
    await book.finish(iso, 'succeeded', { output: { location: '/media/iso' } })
    assert.equal(book.heldOn('node-a'), 0)

    const detail = await book.detail(job.id)
    assert.equal(detail.job.state, 'succeeded')
    assert.equal(detail.job.manifest, 'a'.repeat(64))
    assert.deepEqual(detail.job.tasks, { succeeded: 3 })
    assert.equal(book.activeCount(), 0)
    await db.close()

    const reopened = await openBook(t, path)
    const again = await reopened.book.detail(job.id)
    assert.deepEqual(again.job, detail.job)
    assert.deepEqual(
      again.tasks.map((task) => task.state),
      ['succeeded', 'succeeded', 'succeeded'],
    )
    assert.deepEqual(
      again.events.map((event) => event.seq),
      again.events.map((_, i) => i),
    )
    await reopened.db.close()
  })

  test('retries with backoff, then the job fails with the reason', async (t) => {
    const { db, book } = await openBook(t)
    const { job } = await book.submit(publish, 'alice')
    const fetch = book.tasksOf(book.jobs.get(job.id)!)[0]

    for (let attempt = 1; attempt <= 4; attempt++) {
      assert.equal(fetch.attempt, attempt)
      fetch.notBefore = undefined
      await book.assign(fetch, `node-${attempt}`, LEASE)
      await book.finish(fetch, 'failed', {
        error: { code: 'ORIGIN_UNREACHABLE', message: 'storage server down', retryable: true },
      })
      if (attempt < 4) {
        assert.equal(fetch.state, 'queued')
        assert.ok((fetch.notBefore ?? 0) > Date.now(), 'backs off')
      }
    }

    const detail = await book.detail(job.id)
    assert.equal(detail.job.state, 'failed')
    assert.equal(detail.job.error?.code, 'ORIGIN_UNREACHABLE')
    assert.match(detail.job.error?.message ?? '', /after 4 attempts/)
    assert.deepEqual(detail.job.tasks, { failed: 1, cancelled: 2 })
    await db.close()
  })

  test('an unfixable error fails the job at once; an expired lease re-queues', async (t) => {
    const { db, book } = await openBook(t)
    const first = await book.submit(publish, 'alice')
    const fetch = book.tasksOf(book.jobs.get(first.job.id)!)[0]
    await book.assign(fetch, 'node-a', LEASE)
    await book.expire(fetch)
    assert.equal(fetch.state, 'queued')
    assert.equal(fetch.attempt, 2)
    assert.equal(fetch.error?.code, 'LEASE_EXPIRED')

    fetch.notBefore = undefined
    await book.assign(fetch, 'node-b', LEASE)
    await book.finish(fetch, 'failed', {
      error: { code: 'MASTER_NOT_FOUND', message: 'no such master', retryable: false },
    })
    assert.equal((await book.view(first.job.id)).state, 'failed')
    await db.close()
  })

  test('a result for an attempt given up on changes nothing', async (t) => {
    const { db, book } = await openBook(t)
    const { job } = await book.submit({ ...publish, media: [{ format: 'tar' }] }, 'alice')
    const fetch = book.tasksOf(book.jobs.get(job.id)!)[0]
    await book.assign(fetch, 'node-a', LEASE)
    await book.expire(fetch)
    // The old attempt's result arrives after the re-queue: the task is queued, not held.
    await book.finish(fetch, 'succeeded', {})
    assert.equal(fetch.state, 'queued')
    assert.equal((await book.view(job.id)).state, 'running')
    await db.close()
  })

  test('cancel ends every unfinished task and asks the nodes holding one to stop', async (t) => {
    const { db, book } = await openBook(t)
    const { job } = await book.submit(publish, 'alice')
    const fetch = book.tasksOf(book.jobs.get(job.id)!)[0]
    await book.assign(fetch, 'node-a', LEASE)
    const stopped: string[] = []
    book.on('stop', (task) => stopped.push(`${task.node}:${task.id}`))

    const view = await book.cancel(job.id, 'bob')
    assert.equal(view.state, 'cancelled')
    assert.deepEqual(view.tasks, { cancelled: 3 })
    assert.deepEqual(stopped, [`node-a:${fetch.id}`])
    // Cancelling again, or a late result, changes nothing.
    assert.equal((await book.cancel(job.id, 'bob')).state, 'cancelled')
    await book.finish(fetch, 'succeeded', {})
    assert.equal((await book.view(job.id)).state, 'cancelled')
    await db.close()
  })

  test('a restart keeps queued tasks queued and gives held ones time to re-attach', async (t) => {
    const { db, book, path } = await openBook(t)
    const { job } = await book.submit(publish, 'alice')
    const fetch = book.tasksOf(book.jobs.get(job.id)!)[0]
    await book.assign(fetch, 'node-a', LEASE)
    await db.close()

    const reopened = await openBook(t, path)
    const task = reopened.book.tasks.get(fetch.id)!
    assert.equal(task.state, 'assigned')
    assert.equal(task.node, 'node-a')
    assert.ok((task.leaseUntil ?? 0) > Date.now() + LEASE)
    assert.equal(reopened.book.heldOn('node-a'), 1)
    assert.deepEqual(reopened.book.jobViewOf(reopened.book.jobs.get(job.id)!).tasks, {
      assigned: 1,
      waiting: 2,
    })
    await reopened.db.close()
  })
})
