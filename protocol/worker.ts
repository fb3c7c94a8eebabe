import { Worker } from 'node:worker_threads'

// Worker threads do not inherit the module hooks that run Pressmesh's TypeScript sources
// (tsx), so a TypeScript worker is started by a two-line bootstrap that registers them first.
// A compiled `.js` worker starts directly.

export function startWorker(url: URL): Worker {
  if (!url.pathname.endsWith('.ts')) {
    return new Worker(url)
  }

  const api = import.meta.resolve('tsx/esm/api')
  const code =
    `import(${JSON.stringify(api)})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}) })`

  return new Worker(code, { eval: true })
}
