import type { MediumSpec } from '../../protocol/jobs.ts'

// Small text formatting shared by the client commands.

/** `iso:dvd5`, `img:mbr`, `tar.gz`: the same spelling `submit --media` accepts. */
export function mediumLabel(medium: MediumSpec | undefined): string {
  if (medium === undefined) {
    return '-'
  }

  if (medium.disc !== undefined) {
    return `${medium.format}:${medium.disc}`
  }

  return medium.mbr ? `${medium.format}:mbr` : medium.format
}

/** Peer ids share their first characters (`12D3KooW…`); the head and tail tell them apart. */
export function shortPeer(peer: string | undefined): string {
  if (peer === undefined) {
    return '-'
  }

  return peer.length <= 16 ? peer : `${peer.slice(0, 8)}…${peer.slice(-6)}`
}

/** Milliseconds since the epoch as `2026-12-04 03:44:31` (UTC). */
export function formatTime(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) {
    return '-'
  }

  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ')
}

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  )
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd()

  return [line(header), ...rows.map(line)].join('\n')
}

/** Counts by state, e.g. `2 running, 1 succeeded`. */
export function formatCounts(counts: Record<string, number>): string {
  const parts = Object.entries(counts)
    .filter(([, count]) => count > 0)
    .map(([state, count]) => `${count} ${state}`)

  return parts.length === 0 ? '-' : parts.join(', ')
}
