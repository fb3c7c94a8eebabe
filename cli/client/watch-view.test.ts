import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { makeJob, makeTask } from './test-coordinator.ts'
import { TerminalView } from './watch-view.ts'

describe('the live watch view on a terminal', () => {
  it('draws a bar per task and redraws in place at most ten times a second', async () => {
    const writes: string[] = []
    let now = 1_000
    const view = new TerminalView({ write: (text) => writes.push(text), isTTY: true }, () => now)

    view.job(makeJob('job-1', { state: 'running' }))
    const progress = (done: number) => ({ phase: 'writing', done, total: 4 * 1024 * 1024 })

    for (let done = 0; done <= 20; done++) {
      now += 10
      view.task(makeTask('t-1', 'job-1', { state: 'running', progress: progress(done * 1024) }))
    }

    // 21 updates over 210 ms: drawn at 0 ms (the job), 100 ms and 200 ms.
    assert.equal(writes.length, 3)
    view.task(makeTask('t-2', 'job-1', { medium: { format: 'iso', disc: 'dvd5' } }))
    view.close()

    const last = writes.at(-1) ?? ''
    assert.ok(last.startsWith('\u001b[2A'), 'moves up over the two lines drawn before')
    const lines = last.slice('\u001b[2A'.length).split('\n').slice(0, -1)
    assert.equal(lines.length, 3)
    assert.equal(lines[0], '\rjob job-1 atlas 1.0 running\u001b[K')
    assert.match(lines[1], /pack tar {6}\[\.{30}\] {3}0% running writing 20\.0 KiB \/ 4\.00 MiB/)
    assert.match(lines[2], /pack iso:dvd5 \[\.{30}\] {3}0% queued/)
  })
})
