import { parseArgs } from 'node:util'
import { serveNodeApp } from '../../node/http-api.ts'
import { tuneHeapForStreaming } from '../../node/heap-tuning.ts'
import { MeshNode, type NodeRole } from '../../node/mesh-node.ts'
import { setTimeout as sleep } from 'node:timers/promises'
import { meshInfoSchema } from '../../protocol/api.ts'
import { errorMessage, PressmeshError } from '../../protocol/errors.ts'
import { type Logger, logger } from '../../protocol/logger.ts'
import { loadConfigFile, onOff, resolveNodeSettings, settingsFromEnv } from '../node-config.ts'

export const NODE_USAGE = `usage: pressmesh node [--data DIR] [--listen MULTIADDR]...
                      [--bootstrap MULTIADDR]... [--roles production,staging]
                      [--site NAME] [--psk FILE]
                      [--allow-peers FILE] [--http PORT] [--capacity SIZE] [--slots N]
                      [--direct-writes on|off] [--release-key FILE] [--coordinator URL]
                      [--config FILE]

Starts a mesh node. --slots (default 2) is how many tasks it works on at once; --release-key
(the release.key.pem of pressmesh keygen --release) signs the media its pack tasks write.
--coordinator URL joins the mesh of that coordinator: the node reads its peer id and mesh
addresses from URL/api/v1/mesh (retrying for a minute while it starts) and bootstraps from them.
--direct-writes off writes fetched chunks through the page cache instead of past it (O_DIRECT,
the default where the file system allows it).
Settings also come from a JSON file (--config) and PRESSMESH_NODE_*
variables; flags win. Prints one JSON line {"event":"ready",...} on standard output once
listening, then runs until interrupted.`

export async function nodeCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string' },
      listen: { type: 'string', multiple: true },
      bootstrap: { type: 'string', multiple: true },
      roles: { type: 'string' },
      site: { type: 'string' },
      psk: { type: 'string' },
      'allow-peers': { type: 'string' },
      http: { type: 'string' },
      capacity: { type: 'string' },
      'direct-writes': { type: 'string' },
      slots: { type: 'string' },
      'release-key': { type: 'string' },
      config: { type: 'string' },
      coordinator: { type: 'string' },
    },
  })

  const settings = await resolveNodeSettings(
    await loadConfigFile(values.config),
    settingsFromEnv(process.env),
    {
      data: values.data,
      listen: values.listen,
      bootstrap: values.bootstrap,
      roles: values.roles?.split(',').map((role) => role.trim()) as NodeRole[] | undefined,
      site: values.site,
      psk: values.psk,
      allowPeers: values['allow-peers'],
      http: values.http === undefined ? undefined : Number(values.http),
      capacity: values.capacity,
      directWrites: onOff(values['direct-writes'], '--direct-writes'),
      slots: values.slots === undefined ? undefined : Number(values.slots),
      releaseKey: values['release-key'],
      coordinator: values.coordinator,
    },
  )

  tuneHeapForStreaming()
  const log = logger('node')
  if (settings.coordinator !== undefined) {
    const mesh = await askCoordinator(settings.coordinator, log)
    settings.config.bootstrap = [...settings.config.bootstrap, ...mesh.addresses]
    log.info({ coordinator: settings.coordinator, peer: mesh.peerId }, 'joining the coordinator')
  }
  const node = await MeshNode.start(settings.config, log)
  const server = await serveNodeApp(node, settings.httpPort, settings.httpHost)
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : settings.httpPort
  const http = `http://${settings.httpHost}:${port}`

  const ready = { event: 'ready', peerId: node.peerId, addresses: node.addresses(), http }
  process.stdout.write(`${JSON.stringify(ready)}\n`)
  log.info({ peer: node.peerId, http, site: settings.config.site }, 'node ready')

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })

  log.info('stopping')
  server.close()
  await node.stop()
  return 0
}

const COORDINATOR_WAIT_MS = 60_000

/** The coordinator's mesh addresses, asked for until it answers (it may be starting too). */
async function askCoordinator(url: string, log: Logger) {
  const deadline = Date.now() + COORDINATOR_WAIT_MS
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      const response = await fetch(new URL('/api/v1/mesh', url), {
        signal: AbortSignal.timeout(5_000),
      })
      const parsed = meshInfoSchema.safeParse(await response.json())
      if (response.ok && parsed.success && parsed.data.addresses.length > 0) {
        return parsed.data
      }
      lastError = new Error(`answered ${response.status} without mesh addresses`)
    } catch (err) {
      lastError = err
    }
    log.debug({ coordinator: url, err: errorMessage(lastError) }, 'coordinator not ready yet')
    await sleep(1_000)
  }
  throw new PressmeshError(
    'COORDINATOR_UNREACHABLE',
    `${url} did not say where its mesh is within ${COORDINATOR_WAIT_MS / 1000} s: ` +
      errorMessage(lastError),
  )
}
