#!/usr/bin/env node
// The `pressmesh` command. Pressmesh runs from its TypeScript sources: register tsx's loader,
// supply what Node.js 20 lacks, then hand over to the command line.
import { register } from 'tsx/esm/api'

register()
await import('../../protocol/with-resolvers.ts')
const { main } = await import('../main.ts')
process.exitCode = await main(process.argv.slice(2))
