import { blake3Hex } from '../hash.ts'

/**
 * Highest random weight (rendezvous) hashing: every node that sees the same candidates picks the
 * same one for a key, and when a candidate leaves only its keys move.
 */
export function rendezvous(key: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestScore = ''

  for (const candidate of candidates) {
    const score = blake3Hex(Buffer.from(`${key}\u0000${candidate}`))

    if (best === undefined || score > bestScore) {
      best = candidate
      bestScore = score
    }
  }

  return best
}
