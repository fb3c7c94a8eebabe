// Dispatch benchmark: a real coordinator process and N real node processes on loopback.
//
//   npm run bench:dispatch -- [--nodes 4] [--tasks 4000] [--slots 16] [--runs 3]
//                             [--rate 200] [--seconds 10] [--json]
//
// 1. Tasks dispatched per second: no-op jobs (the node does nothing but answer), from the first
//    submission until the coordinator has recorded the last result. Each task is an offer over
//    /pressmesh/dispatch/1, an accept, a result stream back, an ack, and LevelDB batches.
// 2. API latency at a fixed rate (autocannon, --rate requests/s for --seconds), cycling through
//    the job list, one job's detail and the node list, with the coordinator holding the jobs of
//    step 1.
// Goals (issue 4): at least 500 tasks/s, p99 under 50 ms.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import type { JobView } from '../protocol/api.ts'
import { startCoordinatorProcess } from '../test/helpers/coordinator.ts'
import { startNode, type TestNode } from '../test/helpers/mesh.ts'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '4' },
    tasks: { type: 'string', default: '4000' },
    slots: { type: 'string', default: '16' },
    runs: { type: 'string', default: '3' },
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
  },
})

const nodeCount = Number(values.nodes)
const taskCount = Number(values.tasks)
const runs = Number(values.runs)
const rate = Number(values.rate)
const seconds = Number(values.seconds)
const log = (line: string) => process.stderr.write(`${line}\n`)

const work = await mkdtemp(join(tmpdir(), 'pressmesh-dispatch-'))
const nodes: TestNode[] = []
const coordinator = await startCoordinatorProcess({
  dataDir: join(work, 'coordinator'),
  media: join(work, 'media'),
})

try {
  for (let i = 0; i < nodeCount; i++) {
    nodes.push(
      await startNode({
        name: `n${i}`,
        dataDir: join(work, `node-${i}`),
        bootstrap: [coordinator.bootstrap],
        extraArgs: ['--slots', values.slots ?? '16'],
      }),
    )
  }
  await coordinator.waitForNodes(nodeCount)
  // Let every node's presence reach the coordinator with its free slots.
  await sleep(3_500)

  const throughput: number[] = []
  for (let run = 1; run <= runs; run++) {
    const perJob = 1000
    const jobs = Math.ceil(taskCount / perJob)
    const started = performance.now()
    const submitted: JobView[] = await Promise.all(
      Array.from({ length: jobs }, (_, i) =>
        coordinator.submit({
          kind: 'noop',
          product: 'bench',
          version: `${run}.${i}`,
          master: 'http://127.0.0.1:9/none/',
          count: Math.min(perJob, taskCount - i * perJob),
        }),
      ),
    )
    for (const job of submitted) {
      const detail = await coordinator.waitForJob(job.id, 600_000)
      if (detail.job.state !== 'succeeded') {
        throw new Error(`job ${job.id} ${detail.job.state}: ${detail.job.error?.message}`)
      }
    }
    const elapsed = (performance.now() - started) / 1000
    throughput.push(taskCount / elapsed)
    log(
      `run ${run}: ${taskCount} no-op tasks in ${elapsed.toFixed(2)} s = ` +
        `${(taskCount / elapsed).toFixed(0)} tasks/s`,
    )
  }

  // A job of the usual size (a publish job has a fetch and a few packs) for the detail route.
  const small = await coordinator.submit({
    kind: 'noop',
    product: 'bench',
    version: 'detail',
    master: 'http://127.0.0.1:9/none/',
    count: 4,
  })
  await coordinator.waitForJob(small.id)
  const lastJob = small.id

  log(`API latency at ${rate} requests/s for ${seconds} s…`)
  const headers = { authorization: `Bearer ${coordinator.token}` }
  const result = await autocannon({
    url: coordinator.url,
    connections: 20,
    overallRate: rate,
    duration: seconds,
    requests: [
      { method: 'GET', path: '/api/v1/jobs?limit=20', headers },
      { method: 'GET', path: `/api/v1/jobs/${lastJob}`, headers },
      { method: 'GET', path: '/api/v1/nodes', headers },
    ],
  })
  const errors = result.errors + result.non2xx

  const report = {
    nodes: nodeCount,
    slotsPerNode: Number(values.slots),
    tasks: taskCount,
    tasksPerSecond: {
      best: Math.max(...throughput),
      median: [...throughput].sort((a, b) => a - b)[Math.floor(throughput.length / 2)],
      runs: throughput,
    },
    api: {
      rate,
      seconds,
      requests: result.requests.total,
      errors,
      p50Ms: result.latency.p50,
      p90Ms: result.latency.p90,
      p99Ms: result.latency.p99,
      maxMs: result.latency.max,
    },
    goals: {
      tasksPerSecond: Math.max(...throughput) >= 500,
      p99: result.latency.p99 < 50,
    },
  }

  if (values.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`)
  } else {
    process.stdout.write(
      [
        '',
        `| measure | value | goal |`,
        `| --- | ---: | --- |`,
        `| no-op tasks/s, ${nodeCount} nodes × ${values.slots} slots (best of ${runs}) | ` +
          `${report.tasksPerSecond.best.toFixed(0)} | ≥ 500 |`,
        `| no-op tasks/s (median) | ${report.tasksPerSecond.median.toFixed(0)} | |`,
        `| API p50 at ${rate} req/s | ${report.api.p50Ms} ms | |`,
        `| API p99 at ${rate} req/s | ${report.api.p99Ms} ms | < 50 ms |`,
        `| API requests (errors) | ${report.api.requests} (${errors}) | |`,
        '',
      ].join('\n'),
    )
  }
} finally {
  await Promise.all(nodes.map((node) => node.kill()))
  await coordinator.kill()
  await rm(work, { recursive: true, force: true })
}
