import { execFileSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pseudoRandomBytes } from './random.ts'

/** A fake installer tree of about `totalBytes`, deterministic for a seed. */
export async function writeMasterTree(root: string, totalBytes: number, seed = 1): Promise<void> {
  await mkdir(join(root, 'data'), { recursive: true })
  const big = Math.floor(totalBytes * 0.75)
  await writeFile(join(root, 'setup.exe'), pseudoRandomBytes(big, seed))
  await writeFile(
    join(root, 'data', 'core.pak'),
    pseudoRandomBytes(totalBytes - big - 1000, seed + 1),
  )
  await writeFile(join(root, 'data', 'readme.txt'), 'x'.repeat(1000))
}

/** `diff -r` of two trees; throws with the differences. */
export function assertSameTree(expected: string, actual: string): void {
  execFileSync('diff', ['-r', '--no-dereference', expected, actual], { stdio: 'pipe' })
}
