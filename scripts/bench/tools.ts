import { spawnSync } from 'node:child_process'

/** Stops a benchmark with a message naming the Debian package when a peer tool is missing. */
export function requireTool(command: string, debianPackage: string): void {
  if (spawnSync('sh', ['-c', `command -v ${command}`]).status !== 0) {
    process.stderr.write(
      `bench: ${command} is missing; install it with apt-get install ${debianPackage}\n`,
    )
    process.exit(2)
  }
}
