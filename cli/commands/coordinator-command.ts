import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { Coordinator } from '../../coordinator/coordinator.ts'
import { logger } from '../../protocol/logger.ts'
import { readAllowList, readPsk } from '../../protocol/mesh/keys.ts'
import { UsageError } from '../exit-codes.ts'

export const COORDINATOR_USAGE = `usage: pressmesh coordinator [--data DIR] [--host ADDR]
                             [--port PORT] [--listen MULTIADDR]... [--media DIR|URL] [--lease-ms MS]
                             [--psk FILE] [--allow-peers FILE] [--admin-token-file FILE]

Starts a coordinator: the HTTP API on http://HOST:PORT (default 127.0.0.1:8080) and a mesh peer
listening on MULTIADDR (default /ip4/127.0.0.1/tcp/4001; nodes use it as --bootstrap, and a fixed
port lets them find the coordinator again after a restart). Media go into --media, a folder
(default DIR/media) or a WebDAV collection URL. The first start creates an admin token, prints it
once and writes it to --admin-token-file (default DIR/admin-token, readable by its owner only).
Prints one JSON line {"event":"ready",...} on standard output, then runs until interrupted.`

export async function coordinatorCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string', default: '.pressmesh/coordinator' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8080' },
      listen: { type: 'string', multiple: true },
      media: { type: 'string' },
      'lease-ms': { type: 'string' },
      psk: { type: 'string' },
      'allow-peers': { type: 'string' },
      'admin-token-file': { type: 'string' },
    },
  })

  const port = wholeNumber(values.port, '--port', 0, 65535)
  const leaseMs =
    values['lease-ms'] === undefined
      ? undefined
      : wholeNumber(values['lease-ms'], '--lease-ms', 1000, 600_000)
  const dataDir = resolve(values.data)
  const media = values.media ?? resolve(dataDir, 'media')
  const log = logger('coordinator')

  const coordinator = await Coordinator.start(
    {
      dataDir,
      listen: values.listen ?? ['/ip4/127.0.0.1/tcp/4001'],
      httpHost: values.host,
      httpPort: port,
      media: /^https?:\/\//.test(media) ? media : resolve(media),
      leaseMs,
      psk: values.psk ? await readPsk(values.psk) : undefined,
      allowPeers: values['allow-peers'] ? await readAllowList(values['allow-peers']) : undefined,
      adminTokenFile: values['admin-token-file'] ? resolve(values['admin-token-file']) : undefined,
    },
    log,
  )

  const tokenFile = values['admin-token-file'] ?? resolve(dataDir, 'admin-token')
  if (coordinator.createdAdminToken !== undefined) {
    process.stderr.write(
      `admin token (shown once; also in ${tokenFile}, readable by you only):\n` +
        `  ${coordinator.createdAdminToken}\n`,
    )
  }

  process.stdout.write(
    `${JSON.stringify({
      event: 'ready',
      url: coordinator.url,
      peerId: coordinator.peerId,
      addresses: coordinator.addresses(),
      adminTokenFile: tokenFile,
    })}\n`,
  )
  log.info({ url: coordinator.url, peer: coordinator.peerId }, 'coordinator ready')

  await new Promise<void>((done) => {
    process.once('SIGINT', done)
    process.once('SIGTERM', done)
  })

  log.info('stopping')
  await coordinator.stop()
  return 0
}

function wholeNumber(text: string, flag: string, min: number, max: number): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got "${text}"`)
  }
  return value
}
