// The worker side of Sha256Worker: one SHA-256 state per open stream.
import { createHash, type Hash } from 'node:crypto'
import { parentPort } from 'node:worker_threads'
import type { Sha256Request, Sha256Response } from './sha256-worker.ts'

const streams = new Map<number, Hash>()
const port = parentPort

port?.on('message', (request: Sha256Request) => {
  let hash = streams.get(request.stream)

  if (hash === undefined) {
    hash = createHash('sha256')
    streams.set(request.stream, hash)
  }

  if (request.op === 'update') {
    hash.update(request.bytes)
    port.postMessage({ op: 'updated', stream: request.stream } satisfies Sha256Response)
    return
  }

  streams.delete(request.stream)
  const sha256 = hash.digest('hex')
  port.postMessage({ op: 'digest', stream: request.stream, sha256 } satisfies Sha256Response)
})
