import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ensureSampleMaster } from '../sample-master.ts'
import { indexCommand } from './index-command.ts'

export const DEV_USAGE = `usage: pressmesh dev [--data DIR]

Runs Pressmesh locally with embedded defaults, all data under DIR (default .pressmesh/).`

/**
 * What `npm start` runs. The coordinator and the mesh come with later work; until then it makes
 * the sample master and indexes it into a local chunk store, which is the core every part uses.
 */
export async function devCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { data: { type: 'string', default: '.pressmesh' } },
  })

  const data = resolve(values.data ?? '.pressmesh')
  process.stdout.write(`pressmesh dev: data under ${data}\n`)

  const master = await ensureSampleMaster(resolve(data, 'sample'))
  process.stdout.write(`sample master: ${master}\n`)
  process.stdout.write(
    'this build has the chunking core only (no coordinator or mesh yet): indexing the sample ' +
      'master into a local chunk store\n\n',
  )

  return indexCommand([
    master,
    '--store',
    resolve(data, 'store'),
    '--out',
    resolve(data, 'sample', `master.pressmesh.json`),
  ])
}
