/**
 * Highest random weight (rendezvous) hashing: every node that sees the same candidates picks the
 * same one for a key, and when a candidate leaves only its keys move. The fetcher asks this for
 * every chunk many times a second, so the weight is a fast 53-bit string hash (cyrb53-style
 * multiply-xorshift), not a cryptographic one: it only has to spread keys evenly and agree
 * across nodes.
 */
export function rendezvous(key: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestScore = -1

  for (const candidate of candidates) {
    const score = weight(key, candidate)

    if (score > bestScore || (score === bestScore && best !== undefined && candidate > best)) {
      best = candidate
      bestScore = score
    }
  }

  return best
}

function weight(key: string, candidate: string): number {
  let h1 = 0xdeadbeef
  let h2 = 0x41c6ce57

  for (const text of [key, '\u0000', candidate]) {
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i)
      h1 = Math.imul(h1 ^ code, 2654435761)
      h2 = Math.imul(h2 ^ code, 1597334677)
    }
  }

  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)

  return 4294967296 * (2097151 & h2) + (h1 >>> 0)
}
