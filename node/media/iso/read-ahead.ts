// Asks a source for its next item while the consumer is still busy with the current one, so a
// chunk store read overlaps the consumer's write. At most `depth` items are held ahead, which
// bounds memory to that many chunks (4 MiB each at the default chunker sizes).

export async function* readAhead<T>(source: AsyncIterable<T>, depth: number): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]()
  const ahead: Array<Promise<IteratorResult<T>>> = []
  const request = () => {
    const next = iterator.next()
    // Awaited below in order; this only stops an early failure from counting as unhandled.
    next.catch(() => undefined)
    ahead.push(next)
  }

  try {
    for (let i = 0; i < depth; i++) {
      request()
    }

    while (true) {
      const result = await ahead.shift()!

      if (result.done) {
        return
      }

      request()
      yield result.value
    }
  } finally {
    await iterator.return?.()
  }
}
