import { setTimeout as sleep } from 'node:timers/promises'
import { errorMessage } from '../../protocol/errors.ts'
import {
  type DispatchRequest,
  encodeJson,
  MAX_DISPATCH_BATCH,
  MAX_DISPATCH_FRAME_BYTES,
} from '../../protocol/jobs.ts'
import type { Logger } from '../../protocol/logger.ts'
import type { MeshHost } from '../../protocol/mesh/host.ts'
import { RESULT_GIVE_UP_MS, RESULT_RETRY_BASE_MS, RESULT_RETRY_MAX_MS } from './constants.ts'
import { sendDispatch } from '../../protocol/mesh/dispatch-client.ts'

// A finished task's result goes to the peer that offered it, on a dispatch stream, until that
// peer acknowledges it: a coordinator that restarts or is briefly unreachable still gets it.
// Results waiting for the same peer travel together, up to MAX_DISPATCH_BATCH in one `results`
// frame, so that many short tasks cost one stream, not one each. Waits grow from
// RESULT_RETRY_BASE_MS to RESULT_RETRY_MAX_MS; a result not taken after RESULT_GIVE_UP_MS is
// dropped (the coordinator will have let the lease run out and tried again).

type ResultFrame = Extract<DispatchRequest, { type: 'result' }>

export type Delivery = 'acked' | 'rejected' | 'gave-up' | 'aborted'

export interface DeliveryInit {
  host: MeshHost
  log: Logger
  now?: () => number
}

interface Pending {
  frame: ResultFrame
  bytes: number
  since: number
  done: (delivery: Delivery) => void
}

export class ResultOutbox {
  private readonly waiting = new Map<string, Pending[]>()
  private readonly pumping = new Set<string>()

  constructor(
    private readonly init: DeliveryInit,
    private readonly signal: AbortSignal,
  ) {}

  deliver(peer: string, frame: ResultFrame): Promise<Delivery> {
    const now = this.init.now ?? Date.now
    return new Promise((done) => {
      let queue = this.waiting.get(peer)
      if (queue === undefined) {
        queue = []
        this.waiting.set(peer, queue)
      }
      queue.push({ frame, bytes: encodeJson(frame).length, since: now(), done })
      void this.pump(peer)
    })
  }

  private async pump(peer: string): Promise<void> {
    if (this.pumping.has(peer)) {
      return
    }
    this.pumping.add(peer)
    const now = this.init.now ?? Date.now
    let wait = RESULT_RETRY_BASE_MS

    try {
      // Let results that finish in the same moment join the first frame.
      await new Promise((resolve) => setImmediate(resolve))
      const queue = this.waiting.get(peer) ?? []

      while (queue.length > 0 && !this.signal.aborted) {
        const batch = takeBatch(queue)
        const request: DispatchRequest =
          batch.length === 1
            ? batch[0].frame
            : {
                v: 1,
                type: 'results',
                results: batch.map(({ frame: { v: _v, type: _type, ...result } }) => result),
              }

        const outcome = await this.send(peer, request)
        if (outcome !== 'retry') {
          queue.splice(0, batch.length)
          for (const pending of batch) pending.done(outcome)
          wait = RESULT_RETRY_BASE_MS
          continue
        }

        for (let i = queue.length - 1; i >= 0; i--) {
          if (now() - queue[i].since + wait > RESULT_GIVE_UP_MS) {
            this.init.log.warn({ peer, task: queue[i].frame.task }, 'giving up delivering result')
            queue.splice(i, 1)[0].done('gave-up')
          }
        }
        await sleep(wait, undefined, { signal: this.signal }).catch(() => undefined)
        wait = Math.min(wait * 2, RESULT_RETRY_MAX_MS)
      }

      if (this.signal.aborted) {
        for (const pending of queue.splice(0)) pending.done('aborted')
      }
    } finally {
      this.pumping.delete(peer)
      if ((this.waiting.get(peer)?.length ?? 0) === 0) {
        this.waiting.delete(peer)
      } else if (!this.signal.aborted) {
        void this.pump(peer)
      }
    }
  }

  private async send(
    peer: string,
    request: DispatchRequest,
  ): Promise<'acked' | 'rejected' | 'retry'> {
    try {
      const answer = await sendDispatch(this.init.host, peer, request, this.signal)
      if (answer.type === 'ack') {
        return 'acked'
      }
      // The coordinator knows nothing of these attempts (or finds the frame wrong): sending
      // them again cannot change its mind.
      if (
        answer.type === 'refuse' &&
        (answer.code === 'NOT_RUNNING' || answer.code === 'BAD_TASK')
      ) {
        this.init.log.warn({ peer, code: answer.code }, 'result refused by peer')
        return 'rejected'
      }
      this.init.log.debug({ peer, answer: answer.type }, 'result not acknowledged')
    } catch (err) {
      this.init.log.debug({ peer, err: errorMessage(err) }, 'result delivery failed')
    }
    return 'retry'
  }
}

/** The front of the queue, as many as fit one frame. */
function takeBatch(queue: Pending[]): Pending[] {
  const batch: Pending[] = []
  let bytes = 64
  for (const pending of queue) {
    if (
      batch.length === MAX_DISPATCH_BATCH ||
      (batch.length > 0 && bytes + pending.bytes > MAX_DISPATCH_FRAME_BYTES)
    ) {
      break
    }
    batch.push(pending)
    bytes += pending.bytes + 1
  }
  return batch
}
