import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { EventStreamError, readServerEvents, SseParser, type ServerEvent } from './sse.ts'

function feedAll(parser: SseParser, pieces: string[]): ServerEvent[] {
  return pieces.flatMap((piece) => parser.feed(piece))
}

function streamOf(pieces: (string | Uint8Array)[], keepOpen = false): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) {
        controller.enqueue(typeof piece === 'string' ? new TextEncoder().encode(piece) : piece)
      }

      if (!keepOpen) {
        controller.close()
      }
    },
  })
}

describe('the server-sent events parser', () => {
  it('reads the same messages however the stream is split', () => {
    const text =
      ': ping\n\nevent: job\nid: 7\ndata: {"id":"job-1"}\n\nevent: task\ndata: {"id":"t-1"}\n\n'
    const whole = feedAll(new SseParser(), [text])

    assert.deepEqual(whole, [
      { event: 'job', id: '7', data: '{"id":"job-1"}' },
      { event: 'task', id: '7', data: '{"id":"t-1"}' },
    ])

    for (let size = 1; size < 8; size++) {
      const pieces = text.match(new RegExp(`[^]{1,${size}}`, 'g')) ?? []
      assert.deepEqual(feedAll(new SseParser(), pieces), whole, `pieces of ${size}`)
    }
  })

  it('accepts CRLF, CR and LF line ends, also with CRLF split across pieces', () => {
    const events = feedAll(new SseParser(), [
      'event: job\r',
      '\ndata: a\r\n\r',
      '\nevent: task\rdata: b\r\rdata: c\n\n',
    ])

    assert.deepEqual(events, [
      { event: 'job', data: 'a' },
      { event: 'task', data: 'b' },
      { event: 'message', data: 'c' },
    ])
  })

  it('joins multi-line data with LF and keeps a value without the leading space', () => {
    const events = feedAll(new SseParser(), ['data: first\ndata:second\ndata\ndata:  indented\n\n'])

    assert.deepEqual(events, [{ event: 'message', data: 'first\nsecond\n\n indented' }])
  })

  it('skips comments, unknown fields and messages without data', () => {
    const events = feedAll(new SseParser(), [
      ': ping\n\n:\n\nretry: 100\nfoo: bar\n\nevent: job\n\nevent: node\ndata: {}\n\n',
    ])

    assert.deepEqual(events, [{ event: 'node', data: '{}' }])
  })

  it('refuses a line longer than the bound, even before it ends', () => {
    const parser = new SseParser({ maxLineLength: 64 })
    parser.feed(`data: ${'x'.repeat(50)}`)

    assert.throws(
      () => parser.feed('x'.repeat(20)),
      (err: unknown) => err instanceof EventStreamError && err.code === 'EVENTS_LINE_TOO_LONG',
    )
  })

  it('refuses a message whose data lines add up past the bound', () => {
    const parser = new SseParser({ maxLineLength: 64, maxMessageLength: 100 })
    const line = `data: ${'x'.repeat(40)}\n`

    assert.throws(
      () => parser.feed(line.repeat(3)),
      (err: unknown) => err instanceof EventStreamError && err.code === 'EVENTS_MESSAGE_TOO_LARGE',
    )
  })
})

describe('reading an event stream body', () => {
  it('decodes UTF-8 split inside a character and yields the messages', async () => {
    const bytes = new TextEncoder().encode('data: Größe ✓\n\n')
    const events: ServerEvent[] = []

    for await (const event of readServerEvents(streamOf([bytes.slice(0, 10), bytes.slice(10)]))) {
      events.push(event)
    }

    assert.deepEqual(events, [{ event: 'message', data: 'Größe ✓' }])
  })

  it('gives up on a stream that stays silent past the idle timeout', async () => {
    const events = readServerEvents(streamOf(['data: one\n\n'], true), { idleTimeoutMs: 50 })
    const first = await events.next()

    assert.equal(first.value?.data, 'one')
    await assert.rejects(
      events.next(),
      (err: unknown) => err instanceof EventStreamError && err.code === 'EVENTS_IDLE',
    )
  })
})
