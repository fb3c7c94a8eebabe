import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { PRESSMESH_VERSION } from '../protocol/constants.ts'
import {
  type DispatchAnswer,
  decodeJson,
  dispatchAnswerSchema,
  dispatchRequestSchema,
  encodeJson,
  type TaskSpec,
} from '../protocol/jobs.ts'
import { encodeGossip } from '../protocol/mesh/gossip.ts'
import { createMeshHost, type MeshHost } from '../protocol/mesh/host.ts'
import { DISPATCH_PROTOCOL, EVENTS_TOPIC, PRESENCE_TOPIC } from '../protocol/mesh/protocol-ids.ts'
import { tempDir } from '../test/helpers/temp.ts'
import { Coordinator } from './coordinator.ts'

// The coordinator's mesh side against hand-driven libp2p peers: what a broken or hostile node
// sends must not stop it, and only the node holding a task can report its result.

async function peer(bootstrap: string): Promise<MeshHost> {
  const host = await createMeshHost({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: [bootstrap],
  })
  for (const topic of [PRESENCE_TOPIC, EVENTS_TOPIC]) host.services.pubsub.subscribe(topic)
  return host
}

async function send(
  host: MeshHost,
  to: string,
  bytes: Uint8Array,
): Promise<DispatchAnswer | 'reset'> {
  try {
    const stream = await host.dialProtocol(peerIdFromString(to), DISPATCH_PROTOCOL)
    const lp = lpStream(stream, { maxDataLength: 1024 * 1024 })
    await lp.write(bytes)
    const answer = decodeJson(dispatchAnswerSchema, (await lp.read()).subarray(), 'answer')
    await stream.close().catch(() => undefined)
    return answer
  } catch {
    return 'reset'
  }
}

function presence(host: MeshHost, slots: number): Uint8Array {
  return encodeGossip({
    v: 1,
    type: 'presence',
    roles: ['production'],
    site: 'test',
    slots,
    load: 0,
    freeDiskBytes: 1e12,
    version: PRESSMESH_VERSION,
    wants: [],
    building: [],
    addrs: host.getMultiaddrs().map((a) => a.toString()),
  })
}

test('bad frames and gossip are dropped; only the task holder reports it', async (t) => {
  const dir = await tempDir(t, 'pressmesh-link-')
  const coordinator = await Coordinator.start({
    dataDir: dir,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    httpHost: '127.0.0.1',
    httpPort: 0,
    media: join(dir, 'media'),
  })
  t.after(() => coordinator.stop())
  const boot = coordinator.addresses()[0]
  const honest = await peer(boot)
  const hostile = await peer(boot)
  t.after(() => Promise.all([honest.stop(), hostile.stop()]))
  await sleep(1_000)

  // Malformed frames: each resets its own stream.
  const to = coordinator.peerId
  assert.equal(await send(hostile, to, Buffer.from('not json')), 'reset')
  assert.equal(await send(hostile, to, encodeJson({ v: 1, type: 'launch' })), 'reset')
  assert.equal(await send(hostile, to, new Uint8Array(300 * 1024)), 'reset')
  const offer = await send(hostile, to, encodeJson({ v: 1, type: 'cancel', task: 'x', attempt: 1 }))
  assert.equal(offer !== 'reset' && offer.type, 'refuse')
  // A result for a task nobody holds is acknowledged (so the sender stops) and ignored.
  const stray = await send(
    hostile,
    to,
    encodeJson({
      v: 1,
      type: 'result',
      task: 'j000000000aaaaaaaaaa-1',
      attempt: 1,
      outcome: 'succeeded',
    }),
  )
  assert.equal(stray !== 'reset' && stray.type, 'ack')

  // Garbage on the topics.
  await hostile.services.pubsub.publish(
    EVENTS_TOPIC,
    Buffer.from('{"v":1,"type":"tasks","running":"all"}'),
  )
  await hostile.services.pubsub.publish(PRESENCE_TOPIC, Buffer.from('\u0000\u0001'))

  // The honest peer plays a node: it announces a slot, takes the offer, and reports.
  const offered: TaskSpec[] = []
  await honest.handle(DISPATCH_PROTOCOL, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: 1024 * 1024 })
    const request = decodeJson(dispatchRequestSchema, (await lp.read()).subarray(), 'request')
    if (request.type === 'offer') offered.push(request.task)
    if (request.type === 'offers') offered.push(...request.tasks)
    const answer =
      request.type === 'offers'
        ? { v: 1, type: 'answers', answers: request.tasks.map(() => ({ v: 1, type: 'accept' })) }
        : { v: 1, type: 'accept' }
    await lp.write(encodeJson(answer))
    await stream.close()
  })
  await honest.services.pubsub.publish(PRESENCE_TOPIC, presence(honest, 1))

  const token = coordinator.createdAdminToken
  const submitted = await fetch(`${coordinator.url}/api/v1/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: JSON.stringify({
      kind: 'noop',
      product: 'p',
      version: '1',
      master: 'http://127.0.0.1:9/x/',
      count: 1,
    }),
  })
  const { job } = (await submitted.json()) as { job: { id: string } }
  for (let i = 0; i < 100 && offered.length === 0; i++) await sleep(50)
  assert.equal(offered.length, 1)
  const task = offered[0]
  for (let i = 0; i < 100 && coordinator.book.tasks.get(task.id)?.state !== 'assigned'; i++)
    await sleep(20)

  // Someone else's result for it changes nothing.
  const result = {
    v: 1,
    type: 'result',
    task: task.id,
    attempt: task.attempt,
    outcome: 'succeeded',
  }
  await send(hostile, to, encodeJson(result))
  assert.equal((await coordinator.book.view(job.id)).state, 'running')
  // A heartbeat from the wrong peer does not renew the lease either.
  const before = coordinator.book.tasks.get(task.id)?.leaseUntil
  await hostile.services.pubsub.publish(
    EVENTS_TOPIC,
    encodeJson({
      v: 1,
      type: 'tasks',
      running: [{ task: task.id, attempt: 1, phase: 'fetching', done: 0, total: 0 }],
    }),
  )
  await sleep(300)
  assert.equal(coordinator.book.tasks.get(task.id)?.leaseUntil, before)

  // The holder's result ends the job.
  const ack = await send(honest, to, encodeJson(result))
  assert.equal(ack !== 'reset' && ack.type, 'ack')
  assert.equal((await coordinator.book.view(job.id)).state, 'succeeded')

  const metrics = await (await fetch(`${coordinator.url}/metrics`)).text()
  assert.match(metrics, /pressmesh_coordinator_bad_frames_total [3-9]/)
  assert.match(metrics, /pressmesh_coordinator_bad_gossip_total [1-9]/)
})
