import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { jolietNames } from './joliet-names.ts'
import { comparePrimaryNames, PrimaryNamer } from './primary-names.ts'

describe('ISO 9660 primary names', () => {
  it('are 8.3 d-characters with a version for files and none for folders', () => {
    const namer = new PrimaryNamer()

    assert.equal(namer.name('Setup Program.exe', false).identifier, 'SETUP_PR.EXE;1')
    assert.equal(namer.name('read.me.first.txt', false).identifier, 'READ_ME_.TXT;1')
    assert.equal(namer.name('.profile', false).identifier, '_PROFILE.;1')
    assert.equal(namer.name('Ünïcødé', false).identifier, '_N_C_D_.;1')
    assert.equal(namer.name('my.folder', true).identifier, 'MY_FOLDE')
    assert.equal(namer.name('archive.tar.gz', false).identifier, 'ARCHIVE_.GZ;1')
  })

  it('are made unique in offer order with ~N tails', () => {
    const namer = new PrimaryNamer()
    const names = ['report-a.txt', 'report-b.txt', 'REPORT-C.TXT', 'report-d.text'].map(
      (name) => namer.name(name, false).identifier,
    )

    assert.deepEqual(names, [
      'REPORT_A.TXT;1',
      'REPORT_B.TXT;1',
      'REPORT_C.TXT;1',
      'REPORT_D.TEX;1',
    ])

    const same = new PrimaryNamer()
    const tails = Array.from({ length: 12 }, (_, i) => same.name(`document ${i}.doc`, false))
    assert.equal(tails[0].identifier, 'DOCUMENT.DOC;1')
    assert.equal(tails[1].identifier, 'DOCUME~1.DOC;1')
    assert.equal(tails[11].identifier, 'DOCUM~11.DOC;1')
    assert.equal(new Set(tails.map((name) => name.identifier)).size, 12)
  })

  it('sort by name, then extension, each padded with spaces (ECMA-119 9.3)', () => {
    const namer = new PrimaryNamer()
    const names = ['AB.Z', 'A.Z', 'A_.A', 'A'].map((name) => namer.name(name, false))
    const sorted = [...names].sort(comparePrimaryNames).map((name) => name.identifier)

    assert.deepEqual(sorted, ['A.;1', 'A.Z;1', 'AB.Z;1', 'A_.A;1'])
  })
})

describe('Joliet names', () => {
  it('keep names that fit and replace the characters Joliet forbids', () => {
    const names = jolietNames([
      { name: 'Ünïcødé 名前 🎉.txt', directory: false },
      { name: 'a:b;c?.txt', directory: false },
      { name: 'folder', directory: true },
    ])

    assert.deepEqual(
      names.map((name) => name.identifier),
      ['Ünïcødé 名前 🎉.txt;1', 'a_b_c_.txt;1', 'folder'],
    )
  })

  it('cut long names to 64 characters, keeping the extension and uniqueness', () => {
    const stem = 'a'.repeat(100)
    const names = jolietNames([
      { name: `${stem}1.txt`, directory: false },
      { name: `${stem}2.txt`, directory: false },
      { name: `${stem}3`, directory: true },
    ])
    const ids = names.map((name) => name.identifier)

    assert.ok(ids.every((id) => id.length <= 64))
    assert.equal(new Set(ids).size, 3)
    assert.ok(ids[0].endsWith('.txt;1') && ids[1].endsWith('~1.txt;1'))
    assert.equal(ids[2].length, 64)
  })

  it('never give a shortened name that a real name already holds', () => {
    const long = `${'b'.repeat(70)}.txt`
    const exact = `${'b'.repeat(58)}.txt`
    const names = jolietNames([
      { name: long, directory: false },
      { name: exact, directory: false },
    ])

    assert.equal(names[1].text, exact)
    assert.notEqual(names[0].text, exact)
  })

  it('never split a surrogate pair when cutting', () => {
    const [name] = jolietNames([{ name: '🎉'.repeat(40), directory: true }])

    assert.equal(name.text, '🎉'.repeat(32))
    assert.ok(!/[\ud800-\udbff]$/.test(name.text))
  })
})
