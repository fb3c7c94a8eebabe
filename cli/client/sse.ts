import { PressmeshError } from '../../protocol/errors.ts'

// A reader of server-sent events as the HTML standard defines them (WHATWG HTML §9.2 "Server-sent
// events", the event stream interpretation): lines end in CRLF, LF or CR; `:` starts a comment;
// `data` lines of one message are joined with LF; a blank line dispatches the message. Lines and
// messages are bounded so that a broken or hostile server cannot make the client buffer forever.

export const MAX_SSE_LINE_LENGTH = 1024 * 1024
export const MAX_SSE_MESSAGE_LENGTH = 4 * 1024 * 1024
/** The coordinator pings every few seconds; this much silence means the stream is dead. */
export const EVENTS_IDLE_TIMEOUT_MS = 30_000

export interface ServerEvent {
  /** `message` when the server named none. */
  event: string
  data: string
  /** The last `id:` seen on the stream so far (WHATWG: the last event ID buffer). */
  id?: string
}

export interface SseLimits {
  maxLineLength?: number
  maxMessageLength?: number
}

/** The stream broke the event stream format's bounds, went silent, or was cut. */
export class EventStreamError extends PressmeshError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'EventStreamError'
  }
}

export class SseParser {
  private readonly maxLineLength: number
  private readonly maxMessageLength: number
  private pending = ''
  /** The previous piece ended in CR: an LF at the start of the next one ends no line. */
  private afterCr = false
  private event = ''
  private data: string[] = []
  private dataLength = 0
  private lastId: string | undefined

  constructor(limits: SseLimits = {}) {
    this.maxLineLength = limits.maxLineLength ?? MAX_SSE_LINE_LENGTH
    this.maxMessageLength = limits.maxMessageLength ?? MAX_SSE_MESSAGE_LENGTH
  }

  /** Takes the next piece of decoded text; answers the messages it completed. */
  feed(text: string): ServerEvent[] {
    const events: ServerEvent[] = []
    let start = 0

    if (this.afterCr && text.startsWith('\n')) {
      start = 1
    }

    this.afterCr = false
    const ends = /\r\n|\r|\n/g
    ends.lastIndex = start

    for (let end = ends.exec(text); end !== null; end = ends.exec(text)) {
      const line = this.pending + text.slice(start, end.index)
      this.pending = ''
      this.checkLine(line.length)
      this.takeLine(line, events)
      start = end.index + end[0].length
      this.afterCr = end[0] === '\r' && start === text.length
    }

    this.pending += text.slice(start)
    this.checkLine(this.pending.length)
    return events
  }

  private checkLine(length: number): void {
    if (length > this.maxLineLength) {
      throw new EventStreamError(
        'EVENTS_LINE_TOO_LONG',
        `the event stream sent a line longer than ${this.maxLineLength} characters`,
      )
    }
  }

  private takeLine(line: string, events: ServerEvent[]): void {
    if (line === '') {
      this.dispatch(events)
      return
    }

    if (line.startsWith(':')) {
      return
    }

    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)

    if (value.startsWith(' ')) {
      value = value.slice(1)
    }

    if (field === 'event') {
      this.event = value
    } else if (field === 'data') {
      this.addData(value)
    } else if (field === 'id' && !value.includes('\0')) {
      this.lastId = value
    }
    // `retry` and unknown fields are ignored: the watcher has its own reconnection policy.
  }

  private addData(value: string): void {
    this.dataLength += value.length + 1

    if (this.dataLength > this.maxMessageLength) {
      throw new EventStreamError(
        'EVENTS_MESSAGE_TOO_LARGE',
        `the event stream sent a message larger than ${this.maxMessageLength} characters`,
      )
    }

    this.data.push(value)
  }

  private dispatch(events: ServerEvent[]): void {
    if (this.data.length > 0) {
      const event: ServerEvent = { event: this.event || 'message', data: this.data.join('\n') }

      if (this.lastId !== undefined) {
        event.id = this.lastId
      }

      events.push(event)
    }

    this.event = ''
    this.data = []
    this.dataLength = 0
  }
}

export interface ReadEventsOptions extends SseLimits {
  idleTimeoutMs?: number
}

/**
 * The messages of an event stream body. Throws EventStreamError when the stream goes silent for
 * longer than the idle timeout or is cut; returns when the server ends it. Breaking out of the
 * loop cancels the body.
 */
export async function* readServerEvents(
  body: ReadableStream<Uint8Array>,
  options: ReadEventsOptions = {},
): AsyncGenerator<ServerEvent> {
  const idleTimeoutMs = options.idleTimeoutMs ?? EVENTS_IDLE_TIMEOUT_MS
  const parser = new SseParser(options)
  const decoder = new TextDecoder('utf-8')
  const reader = body.getReader()

  try {
    for (;;) {
      const { done, value } = await readWithin(reader, idleTimeoutMs)

      if (done) {
        for (const event of parser.feed(decoder.decode())) {
          yield event
        }
        return
      }

      for (const event of parser.feed(decoder.decode(value, { stream: true }))) {
        yield event
      }
    }
  } finally {
    await reader.cancel().catch(() => {})
  }
}

async function readWithin(reader: ReadableStreamDefaultReader<Uint8Array>, idleMs: number) {
  let timer: NodeJS.Timeout | undefined
  const idle = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new EventStreamError('EVENTS_IDLE', `the event stream was silent for ${idleMs / 1000} s`),
      )
    }, idleMs)
  })

  try {
    return await Promise.race([reader.read(), idle])
  } catch (err) {
    if (err instanceof EventStreamError) {
      throw err
    }

    throw new EventStreamError('EVENTS_DROPPED', 'the event stream was cut', { cause: err })
  } finally {
    clearTimeout(timer)
  }
}
