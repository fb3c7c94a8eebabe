import { UsageError } from './exit-codes.ts'

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
}

/** Parses sizes such as `4096`, `256KiB`, `1MiB` or `1.5GB`. */
export function parseSize(text: string, what: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  const unit = match ? UNITS[match[2].toLowerCase()] : undefined

  if (!match || unit === undefined) {
    throw new UsageError(`${what}: "${text}" is not a size (try 4096, 256KiB or 1MiB)`)
  }

  const value = Math.round(Number(match[1]) * unit)
  if (!Number.isSafeInteger(value)) {
    throw new UsageError(`${what}: "${text}" is too large`)
  }

  return value
}

export function optionalSize(text: string | undefined, what: string): number | undefined {
  return text === undefined ? undefined : parseSize(text, what)
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0

  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }

  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`
}
