import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { chunkerParams } from './chunker/params.ts'
import { blake3Hex } from './hash.ts'
import {
  canonicalManifestBytes,
  diffManifests,
  type Manifest,
  MAX_MANIFEST_BYTES,
  manifestId,
  parseManifest,
} from './manifest.ts'

const params = chunkerParams({ minSize: 64, avgSize: 256, maxSize: 1024 })
const A = 'a'.repeat(64)
const B = 'b'.repeat(64)
const C = 'c'.repeat(64)

function sample(): Manifest {
  return {
    version: 1,
    chunker: params,
    files: [
      { path: 'setup', type: 'directory', mode: 0o755, mtime: 1_700_000_000 },
      {
        path: 'setup/app.exe',
        type: 'file',
        size: 1500,
        mode: 0o644,
        mtime: 1_700_000_000,
        blake3: A,
        sha256: B,
        chunks: [
          { id: A, size: 1000 },
          { id: B, size: 500 },
        ],
      },
      { path: 'setup/latest', type: 'symlink', target: 'app.exe', mode: 0o777, mtime: 1 },
      {
        path: 'Readme.txt',
        type: 'file',
        size: 0,
        mode: 0o644,
        mtime: 2,
        blake3: C,
        sha256: C,
        chunks: [],
      },
    ],
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the cases poke at arbitrary fields of the document
type Loose = Record<string, any>

function mutated(change: (manifest: Loose) => void): string {
  const document = JSON.parse(JSON.stringify(sample()))
  change(document)
  return JSON.stringify(document)
}

describe('manifests', () => {
  it('serialize canonically: sorted keys and paths, no white space', () => {
    const text = canonicalManifestBytes(sample()).toString()

    assert.ok(text.startsWith('{"chunker":{"algorithm":"fastcdc-2020","avgSize":256,'))
    assert.ok(!/\s/.test(text.replaceAll('Readme.txt', '')))
    assert.ok(text.indexOf('"Readme.txt"') < text.indexOf('"setup"'))
    assert.ok(text.indexOf('"setup"') < text.indexOf('"setup/app.exe"'))
  })

  it('keep the same id whatever the order of keys and entries in the input', () => {
    const original = sample()
    const shuffled = JSON.parse(JSON.stringify(original))
    shuffled.files.reverse()
    const reordered = JSON.stringify(reverseKeys(shuffled))
    const pretty = JSON.stringify(shuffled, null, 2)

    const id = manifestId(original)
    assert.equal(parseManifest(reordered).id, id)
    assert.equal(parseManifest(pretty).id, id)
    assert.equal(parseManifest(JSON.stringify(original)).id, id)
    assert.equal(id, blake3Hex(canonicalManifestBytes(original)))
  })

  it('have an id that is stable across releases of this code', () => {
    // Pinned: changing the canonical form changes every id in the field.
    assert.equal(
      manifestId(sample()),
      blake3Hex(
        Buffer.from(
          '{"chunker":{"algorithm":"fastcdc-2020","avgSize":256,"maxSize":1024,"minSize":64,' +
            '"normalization":1},"files":[{"blake3":"' +
            C +
            '","chunks":[],"mode":420,"mtime":2,"path":"Readme.txt","sha256":"' +
            C +
            '","size":0,"type":"file"},{"mode":493,"mtime":1700000000,"path":"setup",' +
            '"type":"directory"},{"blake3":"' +
            A +
            '","chunks":[{"id":"' +
            A +
            '","size":1000},{"id":"' +
            B +
            '","size":500}],"mode":420,"mtime":1700000000,"path":"setup/app.exe","sha256":"' +
            B +
            '","size":1500,"type":"file"},{"mode":511,"mtime":1,"path":"setup/latest",' +
            '"target":"app.exe","type":"symlink"}],"version":1}',
        ),
      ),
    )
  })

  const rejections: Array<[string, string, (m: Loose) => void]> = [
    ['an absolute path', 'MANIFEST_ABSOLUTE_PATH', (m) => (m.files[3].path = '/etc/passwd')],
    ['a drive letter', 'MANIFEST_ABSOLUTE_PATH', (m) => (m.files[3].path = 'C:/boot.ini')],
    ['a .. segment', 'MANIFEST_PARENT_SEGMENT', (m) => (m.files[3].path = 'setup/../../x')],
    ['an empty segment', 'MANIFEST_BAD_PATH', (m) => (m.files[3].path = 'setup//x')],
    ['a backslash', 'MANIFEST_BAD_PATH', (m) => (m.files[3].path = 'setup\\x')],
    ['a duplicate path', 'MANIFEST_DUPLICATE_PATH', (m) => (m.files[3].path = 'setup/app.exe')],
    ['chunks that do not add up', 'MANIFEST_SIZE_MISMATCH', (m) => (m.files[1].size = 1501)],
    ['an oversize chunk', 'MANIFEST_SIZE_MISMATCH', (m) => (m.files[1].chunks[0].size = 2000)],
    ['a missing parent', 'MANIFEST_MISSING_PARENT', (m) => m.files.splice(0, 1)],
    [
      'a file used as a folder',
      'MANIFEST_PATH_CONFLICT',
      (m) => (m.files[3].path = 'setup/app.exe/x'),
    ],
    ['an unknown version', 'MANIFEST_UNKNOWN_VERSION', (m) => (m.version = 2)],
    ['a missing version', 'MANIFEST_UNKNOWN_VERSION', (m) => delete m.version],
    ['an unknown field', 'MANIFEST_INVALID', (m) => (m.files[0].owner = 'root')],
    ['a bad chunk id', 'MANIFEST_INVALID', (m) => (m.files[1].chunks[0].id = 'xyz')],
    ['a fractional size', 'MANIFEST_INVALID', (m) => (m.files[1].size = 1.5)],
    ['a bad chunker', 'MANIFEST_BAD_CHUNKER', (m) => (m.chunker.minSize = 1)],
  ]

  for (const [what, code, change] of rejections) {
    it(`reject ${what} with ${code}`, () => {
      assert.throws(() => parseManifest(mutated(change)), { code })
    })
  }

  it('reject text that is not JSON, and oversize documents before parsing them', () => {
    assert.throws(() => parseManifest('{"version":1,'), { code: 'MANIFEST_NOT_JSON' })
    assert.throws(() => parseManifest('null'), { code: 'MANIFEST_UNKNOWN_VERSION' })
    assert.throws(() => parseManifest(Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20)), {
      code: 'MANIFEST_TOO_LARGE',
    })
  })

  it('diff two versions by distinct chunks', () => {
    const older = sample()
    const newer = sample()
    const app = newer.files[1]
    assert.equal(app.type, 'file')
    app.chunks[1] = { id: C, size: 500 }

    assert.deepEqual(diffManifests(older, newer), {
      sharedChunks: 1,
      sharedBytes: 1000,
      newChunks: 1,
      fetchBytes: 500,
      newTotalBytes: 1500,
    })
  })
})

function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(reverseKeys)
  }

  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).reverse()
    return Object.fromEntries(entries.map(([key, member]) => [key, reverseKeys(member)]))
  }

  return value
}
