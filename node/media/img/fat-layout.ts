import { InvalidInputError } from '../../../protocol/errors.ts'
import { type FatNode, folderBytes, walkTree } from './fat-tree.ts'

// The whole volume laid out before a byte is written. The FAT type follows from the count of
// data clusters alone (Microsoft FAT specification, "FAT Type Determination"): fewer than 4085
// is FAT12, fewer than 65525 FAT16, else FAT32. We never make FAT12, keep 16 clusters away from
// either limit as the spec advises, and choose the cluster size first:
// FAT16 with 2 KiB clusters while the content fits, else FAT32 with the spec's recommended
// cluster size for the volume size ("FAT32 cluster size table": 4 KiB up to 8 GiB, 8 KiB to
// 16 GiB, 16 KiB to 32 GiB, 32 KiB above), halved while that would give too few clusters.

export const SECTOR_BYTES = 512
const FAT16_MIN_CLUSTERS = 4085 + 16
const FAT16_MAX_CLUSTERS = 65525 - 16
const FAT32_MIN_CLUSTERS = 65525 + 16
/** The spec's largest valid FAT32 cluster number is 0x0FFFFFF6. */
const FAT32_MAX_CLUSTERS = 0x0ffffff6 - 2
const FAT16_CLUSTER_BYTES = 2048
const FAT16_MIN_ROOT_ENTRIES = 512
const FAT16_MAX_ROOT_ENTRIES = 65520

export interface MarginInit {
  /** Free space as a share of the used clusters (default 0.05). */
  ratio: number
  /** Free space in bytes on top of the ratio (default 4 MiB). */
  bytes: number
}

export interface FatLayout {
  type: 16 | 32
  clusterBytes: number
  sectorsPerCluster: number
  reservedSectors: number
  fatSectors: number
  /** FAT16's fixed root folder; 0 on FAT32, whose root is a cluster chain. */
  rootEntries: number
  rootSectors: number
  dataStartSector: number
  clusterCount: number
  totalSectors: number
  usedClusters: number
  /** Folders and files that own clusters, in cluster order. */
  allocated: FatNode[]
}

export function layOut(root: FatNode, labelled: boolean, margin: MarginInit): FatLayout {
  const fat16 = tryLayout(root, labelled, margin, 16, FAT16_CLUSTER_BYTES)

  if (fat16 !== undefined) {
    return fat16
  }

  const estimate = contentBytes(root, labelled, 4096) * (1 + margin.ratio) + margin.bytes
  let clusterBytes = fat32ClusterBytes(estimate)

  while (
    clusterBytes > SECTOR_BYTES &&
    neededClusters(root, labelled, margin, clusterBytes, 32) < FAT32_MIN_CLUSTERS
  ) {
    clusterBytes /= 2
  }

  const fat32 = tryLayout(root, labelled, margin, 32, clusterBytes)
  if (fat32 === undefined) {
    throw new InvalidInputError('IMG_TOO_LARGE', 'the content does not fit one FAT32 volume')
  }

  return fat32
}

function tryLayout(
  root: FatNode,
  labelled: boolean,
  margin: MarginInit,
  type: 16 | 32,
  clusterBytes: number,
): FatLayout | undefined {
  const rootEntries = type === 16 ? fat16RootEntries(root, labelled) : 0

  if (rootEntries > FAT16_MAX_ROOT_ENTRIES) {
    return undefined
  }

  const [min, max] =
    type === 16
      ? [FAT16_MIN_CLUSTERS, FAT16_MAX_CLUSTERS]
      : [FAT32_MIN_CLUSTERS, FAT32_MAX_CLUSTERS]
  const clusterCount = Math.max(min, neededClusters(root, labelled, margin, clusterBytes, type))

  if (clusterCount > max) {
    return undefined
  }

  const sectorsPerCluster = clusterBytes / SECTOR_BYTES
  const reservedSectors = type === 16 ? 1 : 32
  const fatSectors = Math.ceil(((clusterCount + 2) * (type / 8)) / SECTOR_BYTES)
  const rootSectors = (rootEntries * 32) / SECTOR_BYTES
  const dataStartSector = reservedSectors + 2 * fatSectors + rootSectors
  const layout: FatLayout = {
    type,
    clusterBytes,
    sectorsPerCluster,
    reservedSectors,
    fatSectors,
    rootEntries,
    rootSectors,
    dataStartSector,
    clusterCount,
    totalSectors: dataStartSector + clusterCount * sectorsPerCluster,
    usedClusters: 0,
    allocated: [],
  }

  allocate(root, layout, labelled)
  return layout
}

/** Contiguous chains from cluster 2 in walk order: the FAT32 root first, then the tree. */
function allocate(root: FatNode, layout: FatLayout, labelled: boolean): void {
  let next = 2

  for (const node of walkTree(root)) {
    const clusters = nodeClusters(node, labelled, layout.clusterBytes, layout.type)
    node.clusters = clusters
    node.firstCluster = clusters > 0 ? next : 0
    next += clusters

    if (clusters > 0) {
      layout.allocated.push(node)
    }
  }

  layout.usedClusters = next - 2
}

function nodeClusters(node: FatNode, labelled: boolean, clusterBytes: number, type: 16 | 32) {
  if (node.kind === 'file') {
    return Math.ceil(node.entry!.size / clusterBytes)
  }

  if (node.parent === undefined && type === 16) {
    return 0
  }

  return Math.max(1, Math.ceil(folderBytes(node, labelled) / clusterBytes))
}

function neededClusters(
  root: FatNode,
  labelled: boolean,
  margin: MarginInit,
  clusterBytes: number,
  type: 16 | 32,
): number {
  let used = 0

  for (const node of walkTree(root)) {
    used += nodeClusters(node, labelled, clusterBytes, type)
  }

  return used + Math.ceil(used * margin.ratio) + Math.ceil(margin.bytes / clusterBytes)
}

function contentBytes(root: FatNode, labelled: boolean, clusterBytes: number): number {
  return neededClusters(root, labelled, { ratio: 0, bytes: 0 }, clusterBytes, 32) * clusterBytes
}

function fat16RootEntries(root: FatNode, labelled: boolean): number {
  const entries = folderBytes(root, labelled) / 32
  // The root region fills whole sectors: 16 entries each.
  return Math.max(FAT16_MIN_ROOT_ENTRIES, Math.ceil(entries / 16) * 16)
}

function fat32ClusterBytes(volumeBytes: number): number {
  const GiB = 2 ** 30

  if (volumeBytes <= 8 * GiB) {
    return 4096
  }

  if (volumeBytes <= 16 * GiB) {
    return 8192
  }

  return volumeBytes <= 32 * GiB ? 16384 : 32768
}
