import type { FatLayout } from './fat-layout.ts'

// The file allocation table, produced a window at a time from the layout: every folder and file
// owns one contiguous chain, so entry n is n + 1 inside a chain and end-of-chain at its last
// cluster. Entries 0 and 1 hold the media byte and the clean-shutdown bits (Microsoft FAT
// specification, "FAT Volume Initialization").

const WINDOW_ENTRIES = 64 * 1024

export function* fatBytes(layout: FatLayout): Generator<Buffer> {
  const width = layout.type / 8
  const total = (layout.fatSectors * 512) / width
  const end = layout.type === 32 ? 0x0fffffff : 0xffff
  const ends = new Set(layout.allocated.map((node) => node.firstCluster + node.clusters - 1))
  const lastUsed = layout.usedClusters + 1

  for (let start = 0; start < total; start += WINDOW_ENTRIES) {
    const count = Math.min(WINDOW_ENTRIES, total - start)
    const window = Buffer.alloc(count * width)

    for (let i = 0; i < count && start + i <= lastUsed; i++) {
      const n = start + i
      const value =
        n === 0 ? (layout.type === 32 ? 0x0ffffff8 : 0xfff8) : n === 1 || ends.has(n) ? end : n + 1
      write(window, i * width, value, width)
    }

    yield window
  }
}

function write(window: Buffer, offset: number, value: number, width: number): void {
  if (width === 4) {
    window.writeUInt32LE(value, offset)
  } else {
    window.writeUInt16LE(value, offset)
  }
}
