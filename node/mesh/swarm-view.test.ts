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

test('a survey names the connected holders and the live wanters of each chunk', () => {
  let clock = 1_000_000
  const view = new SwarmView('self', 'north', () => clock)

  // Holders on two sites, one of them banned, one disconnected, one gone stale.
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

  // Everyone but p-stale is heard from again; then p-stale's presence runs out.
  clock += 5_000
  for (const [peer, site] of peers) {
    if (peer !== 'p-stale') {
      view.setPresence(peer, presence(site))
    }
  }
  view.setPresence('p-late', presence('south', [MASTER]))
  clock += 6_000

  const survey = view.survey(MANIFEST, MASTER)
  // A holder is a connected, unbanned peer, stale or not.
  assert.deepEqual(survey.holders(6), ['p-even', 'p-third', 'p-done'])
  assert.deepEqual(survey.holders(10), ['p-even', 'p-done', 'p-stale'])
  assert.deepEqual(survey.holders(15), ['p-third', 'p-done', 'p-stale'])
  // A wanter is a live, unbanned peer that still wants the manifest and lacks the chunk,
  // connected or not, plus this node and the peers that want only the master.
  assert.deepEqual(survey.wanting(6), ['self', 'p-unlinked', 'p-late'])
  assert.deepEqual(survey.wanting(7), ['self', 'p-even', 'p-third', 'p-unlinked', 'p-late'])
  assert.deepEqual(survey.wanting(7, 'north'), ['self', 'p-even'])
  assert.deepEqual(survey.wanting(7, 'south'), ['self', 'p-third', 'p-unlinked', 'p-late'])
  assert.deepEqual(survey.wanting(12, 'south'), ['self', 'p-late'])
  // Without the master, the peer that wants only the master is not counted.
  assert.deepEqual(view.survey(MANIFEST).wanting(7), ['self', 'p-even', 'p-third', 'p-unlinked'])

  // The view's own answers are the survey's.
  for (let i = 0; i < CHUNKS; i++) {
    assert.deepEqual(view.holders(MANIFEST, i), survey.holders(i))
  }
  assert.equal(view.interested(MANIFEST, MASTER), 5)
  assert.equal(view.interested(MANIFEST), 4)

  // A manifest nobody announced: no holders, and this node alone wants it.
  assert.deepEqual(view.survey('c'.repeat(64)).holders(0), [])
  assert.deepEqual(view.survey('c'.repeat(64)).wanting(0), ['self'])
})

test('live nodes are this one and the peers heard from lately that are not banned', () => {
  let clock = 1_000_000
  const view = new SwarmView('self', 'north', () => clock)
  assert.equal(view.liveNodes(), 1)

  view.setPresence('p-old', presence('north'))
  clock += 6_000
  for (const peer of ['p-a', 'p-b', 'p-banned']) {
    view.setPresence(peer, presence('south'))
  }
  view.ban('p-banned')
  assert.equal(view.liveNodes(), 4)

  // p-old's presence runs out; the others were heard from 5 s ago.
  clock += 5_000
  assert.equal(view.liveNodes(), 3)
})
