// The worker side of HashWorker: per open stream, a BLAKE3 state, a SHA-256 state or both, as
// the stream's requests ask.
import { parentPort } from 'node:worker_threads'
import { type PartialHasher, partialHasher } from './whole-hash.ts'
import type { HashRequest, HashResponse } from './whole-hash.ts'

const streams = new Map<number, PartialHasher>()
const port = parentPort

port?.on('message', (request: HashRequest) => {
  let hasher = streams.get(request.stream)

  if (hasher === undefined) {
    hasher = partialHasher(request.kind)
    streams.set(request.stream, hasher)
  }

  if (request.op === 'update') {
    hasher.update(request.bytes)
    port.postMessage({ op: 'updated', stream: request.stream } satisfies HashResponse)
    return
  }

  streams.delete(request.stream)
  const digest = hasher.digest()
  port.postMessage({ op: 'digest', stream: request.stream, ...digest } satisfies HashResponse)
})
