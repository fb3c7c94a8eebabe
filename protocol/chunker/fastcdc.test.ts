import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { pseudoRandomBytes, splitInto } from '../../test/helpers/random.ts'
import { Chunker } from './chunker.ts'
import { FastCdc } from './fastcdc.ts'
import { type ChunkerInit, chunkerParams } from './params.ts'

// The image the fastcdc crate tests with (from shared/fixtures), kept in the repository.
const FIXTURE = new URL('../../test/fixtures/SekienAkashita.jpg', import.meta.url)
const image = readFileSync(FIXTURE)

function chunkLengths(bytes: Uint8Array, init: ChunkerInit, pieces: Iterable<Uint8Array>) {
  const cdc = new FastCdc(chunkerParams(init))
  const cuts: number[] = []

  for (const piece of pieces) {
    cdc.push(piece, cuts)
  }

  const last = cdc.finish()
  const lengths = cuts.map((cut, i) => cut - (i === 0 ? 0 : cuts[i - 1]))
  if (last > 0) {
    lengths.push(last)
  }

  assert.equal(
    lengths.reduce((a, b) => a + b, 0),
    bytes.length,
  )
  return lengths
}

function lengthsOf(bytes: Uint8Array, init: ChunkerInit) {
  return chunkLengths(bytes, init, [bytes])
}

// Chunk lengths that the fastcdc crate's v2020 module produces for SekienAkashita.jpg (from the
// crate's own tests), for each parameter set.
const REFERENCE: Array<[ChunkerInit, number[]]> = [
  [{ minSize: 4096, avgSize: 16384, maxSize: 65535 }, [21325, 17140, 28084, 18217, 24700]],
  [{ minSize: 8192, avgSize: 32768, maxSize: 131072 }, [66549, 42917]],
  [{ minSize: 16384, avgSize: 65536, maxSize: 262144 }, [109466]],
  [
    { minSize: 4096, avgSize: 16384, maxSize: 65535, normalization: 0 },
    [6634, 59915, 25597, 5237, 12083],
  ],
  [
    { minSize: 8192, avgSize: 16384, maxSize: 32768, normalization: 3 },
    [17350, 19911, 17426, 17519, 19940, 17320],
  ],
]

describe('FastCDC 2020 cut points', () => {
  for (const [init, expected] of REFERENCE) {
    const name = `${init.minSize}/${init.avgSize}/${init.maxSize} nc${init.normalization ?? 1}`

    it(`match the reference crate on the fixture image for ${name}`, () => {
      assert.deepEqual(lengthsOf(image, init), expected)
    })
  }

  it('do not depend on how the input is split into buffers', () => {
    const data = pseudoRandomBytes(3 * 1024 * 1024 + 17, 7)
    const init = { minSize: 4096, avgSize: 16384, maxSize: 65535 }
    const whole = lengthsOf(data, init)

    assert.ok(whole.length > 100)
    assert.deepEqual(chunkLengths(data, init, splitInto(data, [1])), whole)
    assert.deepEqual(chunkLengths(data, init, splitInto(data, [1, 2, 3, 4095, 7, 65537])), whole)
    assert.deepEqual(chunkLengths(data, init, splitInto(data, [8 * 1024 * 1024])), whole)

    // Buffers that end exactly on candidate cut points (odd and even positions alike).
    const cutEnds = whole.flatMap((length) => [length - 1, 1])
    assert.deepEqual(chunkLengths(data, init, splitInto(data, cutEnds)), whole)
  })

  it('respect the minimum and maximum on random data and average near the target', () => {
    for (const init of [
      { minSize: 256 * 1024, avgSize: 1024 * 1024, maxSize: 4 * 1024 * 1024 },
      { minSize: 2048, avgSize: 8192, maxSize: 65536 },
      { minSize: 8192, avgSize: 65536, maxSize: 262144 },
    ]) {
      const data = pseudoRandomBytes(init.avgSize * 600, 3)
      const lengths = lengthsOf(data, init)
      const body = lengths.slice(0, -1)
      const mean = body.reduce((a, b) => a + b, 0) / body.length

      assert.ok(
        Math.min(...body) >= init.minSize - 1,
        `a chunk under the minimum for ${init.avgSize}`,
      )
      assert.ok(
        Math.max(...lengths) <= init.maxSize,
        `a chunk over the maximum for ${init.avgSize}`,
      )
      // FastCDC with normalization level 1 has an expected length of about 1.22 x avg when
      // min = avg / 4 (the skipped minimum adds to it), about 1.1 x when min = avg / 8.
      assert.ok(
        mean > 0.8 * init.avgSize && mean < 1.3 * init.avgSize,
        `mean ${mean.toFixed(0)} for a target of ${init.avgSize}`,
      )
      assert.ok(
        Math.abs(mean - expectedMean(init)) < 0.2 * expectedMean(init),
        `mean ${mean.toFixed(0)} against an expected ${expectedMean(init).toFixed(0)}`,
      )
    }
  })

  it('change at most three chunks when one byte is inserted near the start of 64 MiB', () => {
    const data = pseudoRandomBytes(64 * 1024 * 1024, 11)
    const edited = Buffer.concat([data.subarray(0, 1000), Buffer.from([0x42]), data.subarray(1000)])
    const before = ids(data)
    const after = ids(edited)
    const changed = [...after].filter((id) => !before.has(id))

    assert.ok(before.size > 40)
    assert.ok(changed.length <= 3, `${changed.length} chunks changed`)
  })

  it('give an all-zero input maximum-sized chunks', () => {
    const init = { minSize: 64, avgSize: 256, maxSize: 1024 }
    assert.deepEqual(lengthsOf(new Uint8Array(10240), init), Array(10).fill(1024))
  })

  it('refuse parameters outside the reference bounds with CHUNKER_BAD_PARAMS', () => {
    for (const init of [
      { minSize: 63 },
      { avgSize: 128, minSize: 64 },
      { maxSize: 32 * 1024 * 1024 },
      { minSize: 2 * 1024 * 1024, avgSize: 1024 * 1024 },
      { normalization: 4 },
      { avgSize: 1.5 },
    ]) {
      assert.throws(() => chunkerParams(init), { code: 'CHUNKER_BAD_PARAMS' })
    }
  })
})

function ids(bytes: Uint8Array): Set<string> {
  const chunker = new Chunker(chunkerParams())
  const chunks = [...chunker.push(bytes)]
  const last = chunker.finish()

  if (last !== undefined) {
    chunks.push(last)
  }

  return new Set(chunks.map((chunk) => chunk.id))
}

/** Expected chunk length of FastCDC with level 1 normalization, integrating survival. */
function expectedMean(init: { minSize: number; avgSize: number; maxSize: number }): number {
  const bits = Math.round(Math.log2(init.avgSize))
  const strict = 2 ** -(bits + 1)
  const loose = 2 ** -(bits - 1)
  const strictSpan = init.avgSize - init.minSize
  const looseSpan = init.maxSize - init.avgSize
  const survive = Math.exp(-strict * strictSpan)

  return (
    init.minSize + (1 - survive) / strict + (survive * (1 - Math.exp(-loose * looseSpan))) / loose
  )
}
