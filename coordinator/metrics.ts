import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

// The coordinator's Prometheus metrics, served at /metrics.

export interface CoordinatorMetrics {
  registry: Registry
  jobsSubmitted: Counter<'kind'>
  jobsFinished: Counter<'state'>
  tasksOffered: Counter<'kind'>
  tasksRefused: Counter<'code'>
  tasksFinished: Counter<'kind' | 'outcome'>
  leasesExpired: Counter
  offerFailures: Counter
  badFrames: Counter
  badGossip: Counter
  tasksQueued: Gauge
  tasksHeld: Gauge
  jobsActive: Gauge
  nodesAlive: Gauge
  sseClients: Gauge
  httpRequests: Counter<'method' | 'route' | 'status'>
  httpSeconds: Histogram<'method' | 'route'>
  offerSeconds: Histogram
}

export function createCoordinatorMetrics(): CoordinatorMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'pressmesh_coordinator_' })

  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] })
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers: [registry] })

  return {
    registry,
    jobsSubmitted: counter('pressmesh_jobs_submitted_total', 'Jobs accepted', ['kind']),
    jobsFinished: counter('pressmesh_jobs_finished_total', 'Jobs that ended, by state', ['state']),
    tasksOffered: counter('pressmesh_tasks_offered_total', 'Task offers made to nodes', ['kind']),
    tasksRefused: counter('pressmesh_task_offers_refused_total', 'Offers nodes refused', ['code']),
    tasksFinished: counter('pressmesh_tasks_finished_total', 'Task results recorded', [
      'kind',
      'outcome',
    ]),
    leasesExpired: counter('pressmesh_task_leases_expired_total', 'Leases that ran out'),
    offerFailures: counter('pressmesh_task_offer_failures_total', 'Offers to unreachable nodes'),
    badFrames: counter('pressmesh_coordinator_bad_frames_total', 'Malformed dispatch frames'),
    badGossip: counter('pressmesh_coordinator_bad_gossip_total', 'Malformed gossip messages'),
    tasksQueued: gauge('pressmesh_tasks_queued', 'Tasks waiting for a node'),
    tasksHeld: gauge('pressmesh_tasks_held', 'Tasks assigned to or running on nodes'),
    jobsActive: gauge('pressmesh_jobs_active', 'Jobs not finished'),
    nodesAlive: gauge('pressmesh_nodes_alive', 'Nodes seen on the presence topic recently'),
    sseClients: gauge('pressmesh_sse_clients', 'Open event streams'),
    httpRequests: counter('pressmesh_http_requests_total', 'API requests', [
      'method',
      'route',
      'status',
    ]),
    httpSeconds: new Histogram({
      name: 'pressmesh_http_request_seconds',
      help: 'API request latency',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    offerSeconds: new Histogram({
      name: 'pressmesh_task_offer_seconds',
      help: 'Time from offer to the node answer',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2],
      registers: [registry],
    }),
  }
}
