import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Bitfield } from '../../protocol/mesh/bitfield.ts'
import type { Have, Presence } from '../../protocol/mesh/gossip.ts'
import { SwarmView } from './swarm-view.ts'

const MANIFEST = 'b'.repeat(64)
const MASTER = 'http://127.0.0.1:1/master.bin'
const CHUNKS = 40

function presence(site: string, wants: string[] = []): Presence {
  return {
    v: 1,
    type: 'presence',
    roles: ['production'],
    site,
    slots: 1,
    load: 0,
    freeDiskBytes: 1e12,
    version: 'test',
    wants,
    building: [],
    addrs: [],
  }
}

function have(site: string, wanting: boolean, holds: (index: number) => boolean): Have {
  const bits = new Bitfield(CHUNKS)
  for (let i = 0; i < CHUNKS; i++) {
    if (holds(i)) {
      bits.set(i)
    }
  }
  return {
    v: 1,
    type: 'have',
    manifest: MANIFEST,
    site,
    chunks: CHUNKS,
    bits: bits.toBase64(),
    wanting,
  }
}

test("a survey answers as the view's own holders() and wanting() do", () => {
  let clock = 1_000_000
  const view = new SwarmView('self', 'north', () => clock)

  // Connected holders on two sites, one of them banned, one disconnected, one gone stale.
  const peers: Array<[string, string, boolean, (i: number) => boolean]> = [
    ['p-even', 'north', true, (i) => i % 2 === 0],
    ['p-third', 'south', true, (i) => i % 3 === 0],
    ['p-done', 'north', false, () => true],
    ['p-banned', 'north', true, (i) => i < 20],
    ['p-unlinked', 'south', true, (i) => i > 10],
    ['p-stale', 'south', true, (i) => i % 5 === 0],
  ]
  for (const [peer, site, wanting, holds] of peers) {
    view.setPresence(peer, presence(site))
    view.setHave(peer, have(site, wanting, holds))
    view.setConnected(peer, peer !== 'p-unlinked')
  }
  view.ban('p-banned')
  // Wants the master but has announced no manifest yet: it counts as wanting every chunk.
  view.setPresence('p-late', presence('south', [MASTER]))
  view.setConnected('p-late', true)

  clock += 5_000
  for (const [peer, site] of peers) {
    if (peer !== 'p-stale') {
      view.setPresence(peer, presence(site))
    }
  }
  view.setPresence('p-late', presence('south', [MASTER]))
  clock += 6_000

  for (const master of [undefined, MASTER]) {
    const survey = view.survey(MANIFEST, master)
    for (let i = 0; i < CHUNKS; i++) {
      assert.deepEqual(survey.holders(i), view.holders(MANIFEST, i), `holders of ${i}`)
      for (const site of [undefined, 'north', 'south']) {
        assert.deepEqual(
          survey.wanting(i, site),
          view.wanting(MANIFEST, i, site, master),
          `wanting ${i} at ${site} with master ${master}`,
        )
      }
    }
  }

  // The answers are the ones expected, not only the same as each other.
  const survey = view.survey(MANIFEST, MASTER)
  // A holder is a connected, unbanned peer, stale or not; a wanter is a live one, linked or not.
  assert.deepEqual(survey.holders(6), ['p-even', 'p-third', 'p-done'])
  assert.deepEqual(survey.holders(10), ['p-even', 'p-done', 'p-stale'])
  assert.deepEqual(survey.wanting(6), ['self', 'p-unlinked', 'p-late'])
  assert.deepEqual(survey.wanting(7), ['self', 'p-even', 'p-third', 'p-unlinked', 'p-late'])
  assert.deepEqual(survey.wanting(7, 'north'), ['self', 'p-even'])
})
