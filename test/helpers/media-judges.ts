import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { tool, treeListing } from './media.ts'

// The outside judges of media images, shared by the tests of each format.

/** GNU tar and bsdtar each extract `archive` identical to `source`: bytes, modes, links, times. */
export async function extractAndCompare(archive: string, source: string, dir: string) {
  for (const [name, command, args] of [
    ['gnu', 'tar', ['-xpf', archive, '-C']],
    ['bsd', 'bsdtar', ['-xpf', archive, '-C']],
  ] as const) {
    const out = join(dir, `out-${name}`)
    await mkdir(out)
    const pkg = command === 'tar' ? 'tar' : 'libarchive-tools'
    const run = tool(command, [...args, out], pkg)
    assert.equal(run.code, 0, `${command}: ${run.stderr}`)

    const diff = tool('diff', ['-r', '--no-dereference', source, out], 'diffutils')
    assert.equal(diff.code, 0, `${command} extraction differs:\n${diff.stdout}`)
    assert.deepEqual(treeListing(out), treeListing(source), `${command}: modes, links or times`)
  }
}

/** fsck.fat -n must exit 0 and print its version line and its summary line, nothing else. */
export function assertFsckClean(image: string): void {
  const run = tool('fsck.fat', ['-n', image], 'dosfstools')
  const lines = run.stdout.trimEnd().split('\n')

  assert.equal(run.code, 0, run.stdout + run.stderr)
  assert.equal(run.stderr, '')
  assert.equal(lines.length, 2, `fsck.fat said more than usual:\n${run.stdout}`)
  assert.match(lines[0], /^fsck\.fat \d+\.\d+ \(\d{4}-\d\d-\d\d\)$/)
  assert.match(lines[1], /^.+: \d+ files, \d+\/\d+ clusters$/)
}

/** Copies the volume out with mtools and compares it with the source, links left out. */
export function assertCopiesOut(image: string, source: string, out: string, links: string[] = []) {
  const copy = tool('mcopy', ['-s', '-n', '-i', image, '::/', out], 'mtools')
  assert.equal(copy.code, 0, copy.stderr)
  assert.equal(copy.stderr, '', 'mcopy complained')

  const excluded = links.flatMap((link) => ['-x', link])
  const diff = tool('diff', ['-r', '--no-dereference', ...excluded, source, out], 'diffutils')
  assert.equal(diff.code, 0, `mcopy's copy differs:\n${diff.stdout}`)
}
