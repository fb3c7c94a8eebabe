import { pino, type Logger } from 'pino'
import pretty from 'pino-pretty'

export type { Logger }

// One root logger per process, JSON on standard error; a person at a terminal gets the same
// records pretty-printed. Components take a child named by path, e.g. `node:chunk-store`.

let root: Logger | undefined

function createRoot(): Logger {
  const level =
    process.env.PRESSMESH_LOG_LEVEL ?? (process.env.NODE_TEST_CONTEXT ? 'silent' : 'info')

  if (process.stderr.isTTY && process.env.PRESSMESH_LOG_FORMAT !== 'json') {
    return pino({ level }, pretty({ destination: 2, sync: true, ignore: 'pid,hostname' }))
  }

  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: false }))
}

export function logger(component: string): Logger {
  root ??= createRoot()
  return root.child({ component })
}
