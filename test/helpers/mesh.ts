import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { ChunkStore } from '../../node/chunk-store/store.ts'
import { exportMaster } from '../../node/chunk-store/reassemble.ts'
import { ManifestRegistry } from '../../node/mesh/manifest-registry.ts'
import { withMallocTuning } from '../../node/heap-tuning.ts'

// Real node processes for tests: `pressmesh node` on loopback, driven through their HTTP API.

const BIN = fileURLToPath(new URL('../../cli/bin/pressmesh.js', import.meta.url))

export interface TestNode {
  name: string
  dataDir: string
  peerId: string
  addresses: string[]
  http: string
  process: ChildProcess
  fetch(master: string): Promise<FetchResult>
  metrics(): Promise<Map<string, number>>
  kill(signal?: NodeJS.Signals): Promise<void>
}

export interface FetchResult {
  manifest: string
  report: {
    fromOrigin: number
    fromPeers: number
    local: number
    totalBytes: number
    peersBySite: Record<string, number>
  }
}

export interface NodeOptions {
  name: string
  dataDir: string
  bootstrap?: string[]
  site?: string
  extraArgs?: string[]
  /** Options for node itself, e.g. --cpu-prof. */
  nodeArgs?: string[]
}

export async function startNode(options: NodeOptions): Promise<TestNode> {
  const args = [
    ...(options.nodeArgs ?? []),
    BIN,

    'node',
    '--data',
    options.dataDir,
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    '--site',
    options.site ?? 'default',
    ...(options.bootstrap ?? []).flatMap((addr) => ['--bootstrap', addr]),
    ...(options.extraArgs ?? []),
  ]
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: withMallocTuning({
      ...process.env,
      PRESSMESH_LOG_LEVEL: process.env.PRESSMESH_TEST_LOG ?? 'warn',
      PRESSMESH_LOG_FORMAT: 'json',
    }),
  })
  let stderr = ''
  child.stderr?.on('data', (data) => {
    stderr = (stderr + data).slice(-8000)
    if (process.env.PRESSMESH_TEST_LOG) {
      process.stderr.write(`[${options.name}] ${data}`)
    }
  })

  const ready = await new Promise<{ peerId: string; addresses: string[]; http: string }>(
    (resolve, reject) => {
      const lines = createInterface({ input: child.stdout! })
      lines.on('line', (line) => {
        try {
          const event = JSON.parse(line)
          if (event.event === 'ready') {
            resolve(event)
          }
        } catch {
          // not ours
        }
      })
      child.once('exit', (code) =>
        reject(new Error(`node ${options.name} exited with ${code}: ${stderr}`)),
      )
    },
  )

  const node: TestNode = {
    name: options.name,
    dataDir: options.dataDir,
    ...ready,
    process: child,
    fetch: (master) => fetchThrough(ready.http, master),
    metrics: () => scrape(ready.http),
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) {
        return
      }

      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill(signal)
      await exited
    },
  }

  return node
}

async function fetchThrough(http: string, master: string): Promise<FetchResult> {
  const response = await fetch(`${http}/api/v1/fetch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ master }),
  })
  const lines = (await response.text()).trim().split('\n')
  const last = JSON.parse(lines[lines.length - 1])

  if (last.error) {
    throw Object.assign(new Error(last.error.message), { code: last.error.code })
  }

  return { manifest: last.manifest, report: last.report }
}

/** Prometheus text as a map from `name{labels}` to value. */
async function scrape(http: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${http}/metrics`)).text()
  const values = new Map<string, number>()

  for (const line of text.split('\n')) {
    const match = /^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/.exec(line)
    if (match) {
      values.set(match[1], Number(match[2]))
    }
  }

  return values
}

/** After a node stopped: writes the master it holds into `dest`, from its own store. */
export async function exportFromNode(dataDir: string, manifestId: string, dest: string) {
  const manifests = new ManifestRegistry(join(dataDir, 'manifests'))
  await manifests.load()
  const known = manifests.get(manifestId)

  if (known === undefined) {
    throw new Error(`${dataDir} does not know manifest ${manifestId}`)
  }

  const store = await ChunkStore.open({ dir: join(dataDir, 'store') })
  try {
    await exportMaster(store, known.manifest, dest)
  } finally {
    await store.close()
  }
}
