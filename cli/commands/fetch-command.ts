import { parseArgs } from 'node:util'
import { PressmeshError } from '../../protocol/errors.ts'
import { formatBytes } from '../args.ts'
import { UsageError } from '../exit-codes.ts'
import { ProgressBar } from '../progress.ts'

export const FETCH_USAGE = `usage: pressmesh fetch <master-url> --node <node-http-address> [--json]

Asks a running node to bring a master into its chunk store, from peers first and from the
storage server only for what no peer has, and reports the bytes by source.`

interface Line {
  progress?: { doneBytes: number; totalBytes: number }
  done?: boolean
  manifest?: string
  report?: Record<string, unknown> & {
    fromOrigin: number
    fromPeers: number
    local: number
    totalBytes: number
    seconds: number
  }
  error?: { code: string; message: string }
}

export async function fetchCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { node: { type: 'string' }, json: { type: 'boolean', default: false } },
  })

  if (positionals.length !== 1 || values.node === undefined) {
    throw new UsageError(FETCH_USAGE)
  }

  const response = await fetch(`${values.node.replace(/\/+$/, '')}/api/v1/fetch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ master: positionals[0] }),
  }).catch((err) => {
    throw new PressmeshError('NODE_UNREACHABLE', `cannot reach the node at ${values.node}`, {
      cause: err,
    })
  })

  if (!response.ok || response.body === null) {
    throw new PressmeshError('NODE_REFUSED', `the node answered ${response.status}`)
  }

  const progress = new ProgressBar('fetching')
  let result: Line | undefined
  let buffered = ''

  for await (const piece of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += Buffer.from(piece).toString('utf8')
    const lines = buffered.split('\n')
    buffered = lines.pop() ?? ''

    for (const text of lines.filter(Boolean)) {
      const line = JSON.parse(text) as Line
      if (line.progress) {
        progress.update(line.progress.doneBytes, line.progress.totalBytes)
      } else {
        result = line
      }
    }
  }

  progress.done()

  if (result?.error) {
    throw new PressmeshError(result.error.code, result.error.message)
  }

  if (!result?.report) {
    throw new PressmeshError('NODE_NO_RESULT', 'the node closed the connection without a result')
  }

  if (values.json) {
    process.stdout.write(`${JSON.stringify({ manifest: result.manifest, ...result.report })}\n`)
    return 0
  }

  const r = result.report
  process.stdout.write(
    [
      `manifest     ${result.manifest}`,
      `total        ${formatBytes(r.totalBytes)}`,
      `from origin  ${formatBytes(r.fromOrigin)}`,
      `from peers   ${formatBytes(r.fromPeers)}`,
      `already held ${formatBytes(r.local)}`,
      `time         ${r.seconds.toFixed(2)} s`,
    ].join('\n') + '\n',
  )
  return 0
}
