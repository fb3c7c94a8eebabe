import { InvalidInputError } from './errors.ts'

// Canonical JSON in the manner of RFC 8785 (JCS), restricted to what Pressmesh documents use:
// object members sorted by their UTF-16 code units, no white space, strings escaped as
// JSON.stringify does, and numbers limited to safe integers so that no float formatting rule
// can make two writers disagree.

export function canonicalJson(value: unknown): string {
  return write(value, '$')
}

function write(value: unknown, where: string): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') {
    return JSON.stringify(value)
  }

  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new InvalidInputError(
        'CANONICAL_JSON_NUMBER',
        `${where}: ${value} is not a safe integer`,
      )
    }

    return String(value)
  }

  if (Array.isArray(value)) {
    return `[${value.map((item, i) => write(item, `${where}[${i}]`)).join(',')}]`
  }

  if (typeof value === 'object') {
    const members = Object.entries(value as Record<string, unknown>)
      .filter(([, member]) => member !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, member]) => `${JSON.stringify(key)}:${write(member, `${where}.${key}`)}`)

    return `{${members.join(',')}}`
  }

  throw new InvalidInputError('CANONICAL_JSON_TYPE', `${where}: ${typeof value} cannot be encoded`)
}
