import type { MediumMeta } from '../medium.ts'
import { SECTOR_BYTES } from './constants.ts'
import {
  aCharacters,
  dCharacters,
  paddedAscii,
  paddedUcs2,
  unspecifiedDate,
  volumeDate,
  writeBoth16,
  writeBoth32,
} from './encoding.ts'

// The volume descriptor set (ECMA-119 8): the primary volume descriptor, the Joliet
// supplementary volume descriptor, and the terminator.

/** Where one hierarchy's path tables and root folder lie. */
export interface HierarchyPlace {
  pathTableBytes: number
  lTableLocation: number
  mTableLocation: number
  rootRecord: Buffer
}

export interface DescriptorInput {
  meta: MediumMeta
  volumeId: string
  volumeSectors: number
}

/** ECMA-119 8.4 (type 1) and the Joliet SVD (type 2, escape sequence %/E for UCS-2 level 3). */
export function volumeDescriptor(
  input: DescriptorInput,
  place: HierarchyPlace,
  joliet: boolean,
): Buffer {
  const out = Buffer.alloc(SECTOR_BYTES)
  const { meta } = input
  const text = (value: string, bytes: number, strict: boolean) =>
    joliet
      ? paddedUcs2(value, bytes)
      : paddedAscii(strict ? dCharacters(value) : aCharacters(value), bytes)

  out[0] = joliet ? 2 : 1
  out.write('CD001', 1, 'latin1')
  out[6] = 1
  text('', 32, false).copy(out, 8)
  text(input.volumeId, 32, true).copy(out, 40)
  writeBoth32(out, 80, input.volumeSectors)

  if (joliet) {
    out.write('%/E', 88, 'latin1')
  }

  writeBoth16(out, 120, 1)
  writeBoth16(out, 124, 1)
  writeBoth16(out, 128, SECTOR_BYTES)
  writeBoth32(out, 132, place.pathTableBytes)
  out.writeUInt32LE(place.lTableLocation, 140)
  out.writeUInt32BE(place.mTableLocation, 148)
  place.rootRecord.copy(out, 156)
  text(input.volumeId, 128, true).copy(out, 190)
  text(meta.publisher ?? '', 128, false).copy(out, 318)
  text('', 128, false).copy(out, 446)
  text(meta.application ?? '', 128, false).copy(out, 574)
  text('', 37, true).copy(out, 702)
  text('', 37, true).copy(out, 739)
  text('', 37, true).copy(out, 776)
  volumeDate(meta.date).copy(out, 813)
  volumeDate(meta.date).copy(out, 830)
  unspecifiedDate().copy(out, 847)
  volumeDate(meta.date).copy(out, 864)
  out[881] = 1
  return out
}

/** ECMA-119 8.3: the volume descriptor set terminator. */
export function terminatorDescriptor(): Buffer {
  const out = Buffer.alloc(SECTOR_BYTES)
  out[0] = 255
  out.write('CD001', 1, 'latin1')
  out[6] = 1
  return out
}
