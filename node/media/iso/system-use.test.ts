import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MAX_RECORD_BYTES, SECTOR_BYTES } from './constants.ts'
import { recordDate, volumeDate } from './encoding.ts'
import { nmEntries, slEntries } from './rock-ridge.ts'
import {
  ContinuationAllocator,
  continuationBytes,
  inlineSystemUse,
  splitSystemUse,
} from './system-use.ts'

describe('SUSP entries spread over a record and continuation areas', () => {
  it('stay in the record when they fit', () => {
    const split = splitSystemUse(46, [36, 19, 20])

    assert.equal(split.inline, 3)
    assert.deepEqual(split.pieces, [])
  })

  it('chain continuation pieces that never cross a sector and carry every entry once', () => {
    const entries = [...nmEntries('n'.repeat(255)), ...slEntries(`${'segment/'.repeat(500)}end`)]
    const split = splitSystemUse(
      46,
      entries.map((entry) => entry.length),
    )
    const allocator = new ContinuationAllocator(100)
    for (const piece of split.pieces) {
      allocator.place(piece)
    }

    const inline = inlineSystemUse(entries, split)
    const pieces = continuationBytes(entries, split)

    assert.ok(46 + inline.length <= MAX_RECORD_BYTES)
    assert.ok(split.pieces.length >= 2)
    assert.ok(split.pieces.every((piece) => piece.offset + piece.bytes <= SECTOR_BYTES))
    assert.deepEqual(
      pieces.map((piece) => piece.length),
      split.pieces.map((piece) => piece.bytes),
    )
    const carried = split.inline + split.pieces.reduce((sum, piece) => sum + piece.count, 0)
    assert.equal(carried, entries.length)
    assert.equal(allocator.sectors(), split.pieces.length)
  })
})

describe('ISO dates', () => {
  it('record UTC and clamp to the years each format holds', () => {
    assert.deepEqual([...recordDate(0)], [70, 1, 1, 0, 0, 0, 0])
    assert.deepEqual([...recordDate(-(2 ** 40))], [0, 1, 1, 0, 0, 0, 0])
    assert.deepEqual([...recordDate(2 ** 40)], [255, 12, 31, 23, 59, 59, 0])
    assert.equal(volumeDate(1_700_000_000).subarray(0, 16).toString('latin1'), '2023111422132000')
    assert.equal(
      volumeDate(2 ** 40)
        .subarray(0, 16)
        .toString('latin1'),
      '9999123123595900',
    )
  })
})
