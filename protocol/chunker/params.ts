import { InvalidInputError } from '../errors.ts'

/** The chunker that every manifest names; other tools reproduce our chunks from these fields. */
export interface ChunkerParams {
  algorithm: 'fastcdc-2020'
  /** Normalized chunking level, 0 to 3 (FastCDC 2016 paper, section 3.5). */
  normalization: number
  minSize: number
  avgSize: number
  maxSize: number
}

export const DEFAULT_MIN_SIZE = 256 * 1024
export const DEFAULT_AVG_SIZE = 1024 * 1024
export const DEFAULT_MAX_SIZE = 4 * 1024 * 1024
export const DEFAULT_NORMALIZATION = 1

// The bounds of the reference implementation (the fastcdc crate's v2020 module), so that any
// parameter set we accept can be reproduced there.
export const MIN_SIZE_BOUNDS = [64, 1024 * 1024] as const
export const AVG_SIZE_BOUNDS = [256, 4 * 1024 * 1024] as const
export const MAX_SIZE_BOUNDS = [1024, 16 * 1024 * 1024] as const

export const DEFAULT_CHUNKER: Readonly<ChunkerParams> = Object.freeze({
  algorithm: 'fastcdc-2020',
  normalization: DEFAULT_NORMALIZATION,
  minSize: DEFAULT_MIN_SIZE,
  avgSize: DEFAULT_AVG_SIZE,
  maxSize: DEFAULT_MAX_SIZE,
})

export interface ChunkerInit {
  minSize?: number
  avgSize?: number
  maxSize?: number
  normalization?: number
}

/** Applies defaults and checks the bounds; throws CHUNKER_BAD_PARAMS naming the bad field. */
export function chunkerParams(init: ChunkerInit = {}): ChunkerParams {
  const params: ChunkerParams = {
    algorithm: 'fastcdc-2020',
    normalization: init.normalization ?? DEFAULT_NORMALIZATION,
    minSize: init.minSize ?? DEFAULT_MIN_SIZE,
    avgSize: init.avgSize ?? DEFAULT_AVG_SIZE,
    maxSize: init.maxSize ?? DEFAULT_MAX_SIZE,
  }

  checkBounds('minimum chunk size', params.minSize, MIN_SIZE_BOUNDS)
  checkBounds('average chunk size', params.avgSize, AVG_SIZE_BOUNDS)
  checkBounds('maximum chunk size', params.maxSize, MAX_SIZE_BOUNDS)
  checkBounds('normalization level', params.normalization, [0, 3])

  if (params.minSize > params.avgSize || params.avgSize > params.maxSize) {
    throw new InvalidInputError(
      'CHUNKER_BAD_PARAMS',
      `chunk sizes must satisfy min <= avg <= max (got ${params.minSize} / ${params.avgSize} / ` +
        `${params.maxSize})`,
    )
  }

  return params
}

function checkBounds(what: string, value: number, [low, high]: readonly [number, number]): void {
  if (!Number.isSafeInteger(value) || value < low || value > high) {
    throw new InvalidInputError(
      'CHUNKER_BAD_PARAMS',
      `${what} must be a whole number from ${low} to ${high} (got ${value})`,
    )
  }
}
