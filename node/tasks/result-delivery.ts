import { setTimeout as sleep } from 'node:timers/promises'
import { errorMessage } from '../../protocol/errors.ts'
import type { DispatchRequest } from '../../protocol/jobs.ts'
import type { Logger } from '../../protocol/logger.ts'
import type { MeshHost } from '../../protocol/mesh/host.ts'
import { RESULT_GIVE_UP_MS, RESULT_RETRY_BASE_MS, RESULT_RETRY_MAX_MS } from './constants.ts'
import { sendDispatch } from './dispatch-client.ts'

// A finished task's result goes to the peer that offered it, on a new dispatch stream, until
// that peer acknowledges it: a coordinator that restarts or is briefly unreachable still gets
// it. Waits grow from RESULT_RETRY_BASE_MS to RESULT_RETRY_MAX_MS; after RESULT_GIVE_UP_MS the
// result is dropped (the coordinator will have let the lease run out and tried again).

type ResultFrame = Extract<DispatchRequest, { type: 'result' }>

export type Delivery = 'acked' | 'rejected' | 'gave-up' | 'aborted'

export interface DeliveryInit {
  host: MeshHost
  log: Logger
  now?: () => number
}

export async function deliverResult(
  init: DeliveryInit,
  peer: string,
  frame: ResultFrame,
  signal: AbortSignal,
): Promise<Delivery> {
  const now = init.now ?? Date.now
  const started = now()
  let wait = RESULT_RETRY_BASE_MS

  while (!signal.aborted) {
    try {
      const answer = await sendDispatch(init.host, peer, frame, signal)

      if (answer.type === 'ack') {
        return 'acked'
      }

      // The coordinator knows nothing of this attempt (or finds the frame wrong): sending it
      // again cannot change its mind.
      if (
        answer.type === 'refuse' &&
        (answer.code === 'NOT_RUNNING' || answer.code === 'BAD_TASK')
      ) {
        init.log.warn({ peer, task: frame.task, code: answer.code }, 'result refused by peer')
        return 'rejected'
      }

      init.log.debug({ peer, task: frame.task, answer: answer.type }, 'result not acknowledged')
    } catch (err) {
      init.log.debug({ peer, task: frame.task, err: errorMessage(err) }, 'result delivery failed')
    }

    if (now() - started + wait > RESULT_GIVE_UP_MS) {
      init.log.warn({ peer, task: frame.task }, 'giving up delivering result')
      return 'gave-up'
    }

    await sleep(wait, undefined, { signal }).catch(() => undefined)
    wait = Math.min(wait * 2, RESULT_RETRY_MAX_MS)
  }

  return 'aborted'
}
