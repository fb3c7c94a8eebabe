import type { FatLayout } from './fat-layout.ts'
import { SECTOR_BYTES } from './fat-layout.ts'

// The reserved region's sectors and the MBR. Field offsets are those of the Microsoft FAT
// specification ("Boot Sector and BPB", "FAT32 FSInfo Sector Structure") and of the classic
// MBR partition table (four 16-byte entries at 446, signature 0x55AA at 510).

export interface BootInit {
  layout: FatLayout
  serial: number
  /** 11 bytes, or undefined for "NO NAME". */
  label?: Buffer
  /** Sectors before the volume (the partition's start), 0 without a partition table. */
  hiddenSectors: number
}

const OEM_NAME = 'PRESSMSH'
const MEDIA_FIXED = 0xf8
export const FSINFO_SECTOR = 1
export const BACKUP_BOOT_SECTOR = 6
/** An MBR partition starts 1 MiB in, as current partitioning tools align it. */
export const PARTITION_START_SECTOR = 2048

export function bootSector(init: BootInit): Buffer {
  const { layout } = init
  const sector = Buffer.alloc(SECTOR_BYTES)
  const fat32 = layout.type === 32

  // A jump over the BPB to where boot code would sit (0x5A on FAT32, 0x3E on FAT16), then NOP.
  sector.set([0xeb, fat32 ? 0x58 : 0x3c, 0x90], 0)
  sector.write(OEM_NAME, 3, 'ascii')
  sector.writeUInt16LE(SECTOR_BYTES, 11)
  sector[13] = layout.sectorsPerCluster
  sector.writeUInt16LE(layout.reservedSectors, 14)
  sector[16] = 2
  sector.writeUInt16LE(layout.rootEntries, 17)
  sector.writeUInt16LE(layout.totalSectors < 0x10000 ? layout.totalSectors : 0, 19)
  sector[21] = MEDIA_FIXED
  sector.writeUInt16LE(fat32 ? 0 : layout.fatSectors, 22)
  sector.writeUInt16LE(63, 24)
  sector.writeUInt16LE(255, 26)
  sector.writeUInt32LE(init.hiddenSectors, 28)
  sector.writeUInt32LE(layout.totalSectors < 0x10000 ? 0 : layout.totalSectors, 32)

  if (fat32) {
    sector.writeUInt32LE(layout.fatSectors, 36)
    sector.writeUInt32LE(2, 44)
    sector.writeUInt16LE(FSINFO_SECTOR, 48)
    sector.writeUInt16LE(BACKUP_BOOT_SECTOR, 50)
    extendedBpb(sector, 64, init, 'FAT32   ')
  } else {
    extendedBpb(sector, 36, init, 'FAT16   ')
  }

  sector.writeUInt16LE(0xaa55, 510)
  return sector
}

/** FSInfo: free cluster count and the next free cluster, which fsck.fat checks. */
export function fsInfoSector(layout: FatLayout): Buffer {
  const sector = Buffer.alloc(SECTOR_BYTES)
  const free = layout.clusterCount - layout.usedClusters

  sector.writeUInt32LE(0x41615252, 0)
  sector.writeUInt32LE(0x61417272, 484)
  sector.writeUInt32LE(free, 488)
  sector.writeUInt32LE(free > 0 ? 2 + layout.usedClusters : 0xffffffff, 492)
  sector.writeUInt32LE(0xaa550000, 508)
  return sector
}

/** One primary partition of type 0x0C (FAT32, LBA) or 0x0E (FAT16, LBA). */
export function mbrSector(layout: FatLayout, diskSignature: number): Buffer {
  const sector = Buffer.alloc(SECTOR_BYTES)
  const entry = 446

  sector.writeUInt32LE(diskSignature, 440)
  // CHS fields hold the "use LBA" marker 1023/254/63, as for any partition past 8 GB.
  sector.set([0xfe, 0xff, 0xff], entry + 1)
  sector[entry + 4] = layout.type === 32 ? 0x0c : 0x0e
  sector.set([0xfe, 0xff, 0xff], entry + 5)
  sector.writeUInt32LE(PARTITION_START_SECTOR, entry + 8)
  sector.writeUInt32LE(layout.totalSectors, entry + 12)
  sector.writeUInt16LE(0xaa55, 510)
  return sector
}

function extendedBpb(sector: Buffer, at: number, init: BootInit, type: string): void {
  sector[at] = 0x80
  sector[at + 2] = 0x29
  sector.writeUInt32LE(init.serial, at + 3)
  sector.write(init.label?.toString('ascii') ?? 'NO NAME    ', at + 7, 'ascii')
  sector.write(type, at + 18, 'ascii')
}
