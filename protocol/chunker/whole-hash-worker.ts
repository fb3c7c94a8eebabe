// The worker side of HashWorker: one BLAKE3 and one SHA-256 state per open stream.
import { parentPort } from 'node:worker_threads'
import { inlineWholeHasher, type WholeHasher } from './whole-hash.ts'
import type { HashRequest, HashResponse, WholeDigest } from './whole-hash.ts'

const streams = new Map<number, WholeHasher>()
const port = parentPort

port?.on('message', (request: HashRequest) => {
  let hasher = streams.get(request.stream)

  if (hasher === undefined) {
    hasher = inlineWholeHasher()
    streams.set(request.stream, hasher)
  }

  if (request.op === 'update') {
    hasher.update(request.bytes)
    port.postMessage({ op: 'updated', stream: request.stream } satisfies HashResponse)
    return
  }

  streams.delete(request.stream)
  const digest = hasher.digest() as WholeDigest
  port.postMessage({ op: 'digest', stream: request.stream, ...digest } satisfies HashResponse)
})
