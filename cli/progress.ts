import { formatBytes } from './args.ts'

// A one-line progress bar on standard error, drawn only for a person at a terminal and at most
// ten times a second.

const WIDTH = 30
const REDRAW_MS = 100

export class ProgressBar {
  private readonly enabled: boolean
  private readonly started = performance.now()
  private lastDraw = 0

  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.enabled = stream.isTTY === true
  }

  update(done: number, total: number): void {
    const now = performance.now()

    if (!this.enabled || (now - this.lastDraw < REDRAW_MS && done < total)) {
      return
    }

    this.lastDraw = now
    const fraction = total > 0 ? Math.min(1, done / total) : 1
    const filled = Math.round(fraction * WIDTH)
    const seconds = (now - this.started) / 1000
    const rate = seconds > 0 ? done / seconds : 0
    const bar = `${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}`

    this.stream.write(
      `\r${this.label} [${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ` +
        `${formatBytes(done)} / ${formatBytes(total)} ${formatBytes(rate)}/s\u001b[K`,
    )
  }

  done(): void {
    if (this.enabled) {
      this.stream.write('\r\u001b[K')
    }
  }
}
