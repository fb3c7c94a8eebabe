import type { KeyObject } from 'node:crypto'
import { isAbsolute } from 'node:path'
import { HashWorker } from '../../protocol/chunker/whole-hash.ts'
import { isPressmeshError, NotFoundError } from '../../protocol/errors.ts'
import type { TaskOutput, TaskSpec } from '../../protocol/jobs.ts'
import type { Logger } from '../../protocol/logger.ts'
import type { Manifest } from '../../protocol/manifest.ts'
import type { ChunkStore } from '../chunk-store/store.ts'
import type { FetchProgress } from '../fetch/swarm-fetcher.ts'
import { publishMedium } from '../media/publish.ts'
import { readAheadSource } from '../media/read-ahead.ts'
import { davTarget } from '../media/upload/dav-target.ts'
import { folderTarget } from '../media/upload/folder-target.ts'
import type { MediaTarget } from '../media/upload/target.ts'
import { mediumWriter } from '../media/writers.ts'
import type { MaterializeOptions, Materialized } from '../mesh-node.ts'
import { MASTER_PROBE_TIMEOUT_MS } from './constants.ts'

// What each kind of task does. `noop` answers at once (the dispatch benchmark measures the
// round trip, not the work); `fetch` brings a master into the store; `pack` brings it in if
// needed and writes one medium straight from the store to the media server, as `pressmesh pack`
// does.

export interface TaskWorkInit {
  store: ChunkStore
  materialize: (master: string, options: MaterializeOptions) => Promise<Materialized>
  /** Signs SHA256SUMS of every medium; unsigned media without it. */
  releaseKey?: KeyObject
  log: Logger
}

export interface TaskWorkOptions {
  signal: AbortSignal
  onProgress: (phase: string, done: number, total: number) => void
  /** Pins the master's chunks under this holder while a medium is written. */
  pinHolder: string
}

export interface Refusal {
  code: 'UNSUPPORTED' | 'BAD_TASK'
  message: string
}

/** Why an offer cannot be taken whatever the node's load, or undefined when it can. */
export function checkTask(spec: TaskSpec): Refusal | undefined {
  if (spec.kind !== 'pack') {
    return undefined
  }

  const { medium, target } = spec
  if (medium === undefined || spec.name === undefined || target === undefined) {
    return { code: 'BAD_TASK', message: 'a pack task names its medium, name and target' }
  }

  if (
    (medium.disc !== undefined && medium.format !== 'iso') ||
    (medium.mbr && medium.format !== 'img')
  ) {
    return { code: 'BAD_TASK', message: 'disc is for iso and mbr for img only' }
  }

  // A relative folder would land wherever the node happens to run.
  if (target.type === 'folder' && !isAbsolute(target.dir)) {
    return { code: 'BAD_TASK', message: `the target folder ${target.dir} is not absolute` }
  }

  try {
    mediumWriter(medium.format)
  } catch (err) {
    return { code: 'UNSUPPORTED', message: err instanceof Error ? err.message : String(err) }
  }

  return undefined
}

export async function runTask(
  init: TaskWorkInit,
  spec: TaskSpec,
  options: TaskWorkOptions,
): Promise<TaskOutput> {
  switch (spec.kind) {
    case 'noop':
      return {}
    case 'fetch':
      return fetchTask(init, spec, options)
    case 'pack':
      return packTask(init, spec, options)
  }
}

async function fetchTask(init: TaskWorkInit, spec: TaskSpec, options: TaskWorkOptions) {
  const { manifest, report } = await fetchMaster(init, spec, options)
  return { manifest: manifest.id, fromOrigin: report.fromOrigin, fromPeers: report.fromPeers }
}

async function packTask(
  init: TaskWorkInit,
  spec: TaskSpec,
  options: TaskWorkOptions,
): Promise<TaskOutput> {
  const fetched = await fetchMaster(init, spec, options)
  const { manifest } = fetched
  // Pinned from here, so that eviction cannot take chunks while the medium is written.
  await init.store.pin(options.pinHolder, manifest.order.ids)

  try {
    // A chunk evicted between the fetch and the pin is fetched again, now pinned.
    if (manifest.order.ids.some((id) => !init.store.has(id))) {
      await fetchMaster(init, spec, options)
    }

    const written = await writeMedium(init, spec, manifest.manifest, options)
    return {
      manifest: manifest.id,
      fromOrigin: fetched.report.fromOrigin,
      fromPeers: fetched.report.fromPeers,
      ...written,
    }
  } finally {
    await init.store.unpin(options.pinHolder)
  }
}

async function writeMedium(
  init: TaskWorkInit,
  spec: TaskSpec,
  manifest: Manifest,
  options: TaskWorkOptions,
) {
  const name = spec.name!
  const medium = mediumWriter(spec.medium!.format)(
    {
      manifest,
      source: readAheadSource(init.store),
      meta: { volumeId: spec.volumeId ?? name.toUpperCase(), date: newestTime(manifest) },
    },
    { name, mbr: spec.medium!.mbr, disc: spec.medium!.disc, log: init.log },
  )
  const target = targetFor(spec, init.log)
  const hashWorker = new HashWorker()
  options.onProgress('writing', 0, 0)

  try {
    const result = await publishMedium(medium, target, {
      key: init.releaseKey,
      signal: options.signal,
      hashWorker,
      onProgress: (done, total) => options.onProgress('writing', done, total),
    })

    return {
      files: result.files.map(({ name, size, sha256, blake3 }) => ({ name, size, sha256, blake3 })),
      location: target.location,
      signedBy: result.signedBy,
    }
  } finally {
    await hashWorker.stop()
  }
}

async function fetchMaster(init: TaskWorkInit, spec: TaskSpec, options: TaskWorkOptions) {
  options.onProgress('fetching', 0, 0)

  try {
    return await init.materialize(spec.master, {
      manifest: spec.manifest,
      signal: options.signal,
      onProgress: (progress: FetchProgress) =>
        options.onProgress('fetching', progress.doneBytes, progress.totalBytes),
    })
  } catch (err) {
    throw await explainMissing(spec.master, err, options.signal)
  }
}

/**
 * The origin's errors for a master that is not there (no listing, an HTTP error) do not say
 * whether it is missing or the server is failing; a HEAD of the master itself tells them apart,
 * so that a missing master fails for good instead of being tried again and again.
 */
async function explainMissing(master: string, err: unknown, signal: AbortSignal) {
  const unclear = isPressmeshError(err, 'ORIGIN_NO_LISTING') || isPressmeshError(err, 'ORIGIN_HTTP')

  if (!unclear || !/^https?:\/\//.test(master) || signal.aborted) {
    return err
  }

  const status = await fetch(master, {
    method: 'HEAD',
    signal: AbortSignal.any([signal, AbortSignal.timeout(MASTER_PROBE_TIMEOUT_MS)]),
  })
    .then((response) => response.status)
    .catch(() => 0)

  return status === 404 || status === 410
    ? new NotFoundError('MASTER_NOT_FOUND', `the storage server has no master at ${master}`, {
        cause: err,
      })
    : err
}

function targetFor(spec: TaskSpec, log: Logger): MediaTarget {
  const target = spec.target!
  return target.type === 'folder'
    ? folderTarget({ dir: target.dir })
    : davTarget({ url: target.url, log })
}

function newestTime(manifest: Manifest): number {
  return manifest.files.reduce((newest, entry) => Math.max(newest, entry.mtime), 0)
}
