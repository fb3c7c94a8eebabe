import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client'

// A node's Prometheus metrics. Byte counters are labelled with the peer's site so that the
// traffic that crosses between build sites can be read off the nodes themselves.

export interface NodeMetrics {
  registry: Registry
  bytesFromOrigin: Counter
  bytesFromPeers: Counter<'peer_site'>
  bytesServed: Counter<'peer_site'>
  chunksVerified: Counter
  chunksRejected: Counter
  peersBanned: Counter
  badFrames: Counter<'protocol'>
  badGossip: Counter
  storeBytes: Gauge
  storeChunks: Gauge
  storeReads: Counter<'source'>
  tasksAccepted: Counter<'kind'>
  tasksRefused: Counter<'kind' | 'code'>
  tasksSucceeded: Counter<'kind'>
  tasksFailed: Counter<'kind'>
  tasksCancelled: Counter<'kind'>
  tasksRunning: Gauge
}

export function createNodeMetrics(): NodeMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'pressmesh_node_' })

  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] })
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers: [registry] })

  return {
    registry,
    bytesFromOrigin: counter(
      'pressmesh_bytes_from_origin_total',
      'Bytes read from storage servers',
    ),
    bytesFromPeers: counter('pressmesh_bytes_from_peers_total', 'Chunk bytes received from peers', [
      'peer_site',
    ]),
    bytesServed: counter('pressmesh_bytes_served_total', 'Chunk bytes served to peers', [
      'peer_site',
    ]),
    chunksVerified: counter('pressmesh_chunks_verified_total', 'Chunks received and verified'),
    chunksRejected: counter('pressmesh_chunks_rejected_total', 'Chunks whose bytes did not match'),
    peersBanned: counter('pressmesh_peers_banned_total', 'Peers banned for sending bad bytes'),
    badFrames: counter('pressmesh_bad_frames_total', 'Malformed frames received', ['protocol']),
    badGossip: counter('pressmesh_bad_gossip_total', 'Malformed gossip messages received'),
    storeBytes: gauge('pressmesh_store_bytes', 'Bytes in the chunk store'),
    storeChunks: gauge('pressmesh_store_chunks', 'Chunks in the chunk store'),
    storeReads: counter(
      'pressmesh_store_reads_total',
      'Chunk reads, from the latest chunks kept in memory or from disk',
      ['source'],
    ),
    tasksAccepted: counter('pressmesh_tasks_accepted_total', 'Task offers accepted', ['kind']),
    tasksRefused: counter('pressmesh_tasks_refused_total', 'Task offers refused', ['kind', 'code']),
    tasksSucceeded: counter('pressmesh_tasks_succeeded_total', 'Tasks that succeeded', ['kind']),
    tasksFailed: counter('pressmesh_tasks_failed_total', 'Tasks that failed', ['kind']),
    tasksCancelled: counter('pressmesh_tasks_cancelled_total', 'Tasks cancelled', ['kind']),
    tasksRunning: gauge('pressmesh_tasks_running', 'Tasks working now (not yet reporting)'),
  }
}
