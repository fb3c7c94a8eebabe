import { IntegrityError } from '../../../protocol/errors.ts'
import { blake3Hex } from '../../../protocol/hash.ts'
import { type Logger, logger } from '../../../protocol/logger.ts'
import { manifestId } from '../../../protocol/manifest.ts'
import type { Medium, MediumInput } from '../medium.ts'
import { zeros } from '../zeros.ts'
import {
  BACKUP_BOOT_SECTOR,
  bootSector,
  fsInfoSector,
  mbrSector,
  PARTITION_START_SECTOR,
} from './fat-boot.ts'
import { folderEntries } from './fat-directory.ts'
import { type FatLayout, layOut, type MarginInit, SECTOR_BYTES } from './fat-layout.ts'
import { volumeLabel } from './fat-names.ts'
import { fatBytes } from './fat-table.ts'
import { type FatNode, fatTree } from './fat-tree.ts'

// The img medium: a raw disk image holding one FAT16 or FAT32 volume, optionally behind an MBR
// partition table. The layout is computed in full first; the bytes then follow strictly in
// disk order (reserved sectors, both FATs, the FAT16 root, the data clusters, the free space),
// with file contents streamed from the source, so the image needs no seeks and no temporary
// copy, and its size is known in advance.

export interface ImgOptions {
  /** File name without extension; `.img` is added. */
  name: string
  /** Put the volume behind an MBR with one partition, starting 1 MiB in. */
  mbr?: boolean
  margin?: Partial<MarginInit>
  log?: Logger
}

export const DEFAULT_MARGIN: MarginInit = { ratio: 0.05, bytes: 4 * 1024 * 1024 }
const MIB = 1024 * 1024

interface ImgPlan {
  input: MediumInput
  layout: FatLayout
  root: FatNode
  label?: Buffer
  serial: number
  mbr: boolean
  size: number
}

export function imgMedium(input: MediumInput, options: ImgOptions): Medium {
  const plan = planImage(input, options)
  return {
    kind: 'img',
    files: [{ name: `${options.name}.img`, size: plan.size, bytes: (s) => imageBytes(plan, s) }],
  }
}

/** Lays the volume out; throws IMG_FILE_TOO_LARGE, IMG_BAD_NAME or IMG_NAME_CONFLICT. */
export function planImage(input: MediumInput, options: ImgOptions): ImgPlan {
  const label = volumeLabel(input.meta.volumeId)
  const root = fatTree(input.manifest, input.meta.date, options.log ?? logger('media:img'))
  const layout = layOut(root, label !== undefined, { ...DEFAULT_MARGIN, ...options.margin })
  const mbr = options.mbr ?? false
  const volumeBytes = layout.totalSectors * SECTOR_BYTES
  const size = mbr ? roundUp(PARTITION_START_SECTOR * SECTOR_BYTES + volumeBytes, MIB) : volumeBytes

  return { input, layout, root, label, serial: volumeSerial(input), mbr, size }
}

async function* imageBytes(plan: ImgPlan, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  if (plan.mbr) {
    yield mbrSector(plan.layout, plan.serial)
    yield* zeros((PARTITION_START_SECTOR - 1) * SECTOR_BYTES)
  }

  yield* reservedRegion(plan)
  yield* fatBytes(plan.layout)
  yield* fatBytes(plan.layout)

  if (plan.layout.type === 16) {
    yield* padTo(
      folderEntries(plan.root, plan.label, plan.input.meta.date),
      plan.layout.rootSectors * SECTOR_BYTES,
    )
  }

  yield* dataRegion(plan, signal)

  if (plan.mbr) {
    const written = (PARTITION_START_SECTOR + plan.layout.totalSectors) * SECTOR_BYTES
    yield* zeros(plan.size - written)
  }
}

function* reservedRegion(plan: ImgPlan): Generator<Uint8Array> {
  const { layout } = plan
  const boot = bootSector({
    layout,
    serial: plan.serial,
    label: plan.label,
    hiddenSectors: plan.mbr ? PARTITION_START_SECTOR : 0,
  })

  if (layout.type === 16) {
    yield boot
    yield* zeros((layout.reservedSectors - 1) * SECTOR_BYTES)
    return
  }

  // FAT32: boot sector, FSInfo, then their backups from sector 6 (BPB_BkBootSec).
  const info = fsInfoSector(layout)
  yield boot
  yield info
  yield* zeros((BACKUP_BOOT_SECTOR - 2) * SECTOR_BYTES)
  yield boot
  yield info
  yield* zeros((layout.reservedSectors - BACKUP_BOOT_SECTOR - 2) * SECTOR_BYTES)
}

async function* dataRegion(plan: ImgPlan, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const { layout } = plan

  for (const node of layout.allocated) {
    signal?.throwIfAborted()
    const bytes = node.clusters * layout.clusterBytes

    if (node.kind === 'folder') {
      yield* padTo(folderEntries(node, plan.label, plan.input.meta.date), bytes)
    } else {
      yield* fileClusters(plan, node, bytes, signal)
    }
  }

  yield* zeros((layout.clusterCount - layout.usedClusters) * layout.clusterBytes)
}

async function* fileClusters(
  plan: ImgPlan,
  node: FatNode,
  bytes: number,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const entry = node.entry!
  let read = 0

  for await (const piece of plan.input.source.read(entry, signal)) {
    read += piece.length

    if (read > entry.size) {
      break
    }

    yield piece
  }

  // A short or long source would shift every later cluster: refuse rather than misplace.
  if (read !== entry.size) {
    throw new IntegrityError(
      'IMG_SOURCE_SIZE',
      `"${entry.path}" gave ${read} bytes or more; the manifest says ${entry.size}`,
    )
  }

  yield* zeros(bytes - entry.size)
}

function* padTo(bytes: Buffer, size: number): Generator<Uint8Array> {
  yield bytes
  yield* zeros(size - bytes.length)
}

/** Derived from what the image holds, so that the same input gives the same bytes. */
function volumeSerial(input: MediumInput): number {
  const seed = `${manifestId(input.manifest)}\u0000${input.meta.volumeId}\u0000${input.meta.date}`
  return Buffer.from(blake3Hex(Buffer.from(seed, 'utf8')), 'hex').readUInt32LE(0)
}

function roundUp(value: number, unit: number): number {
  return Math.ceil(value / unit) * unit
}
