/** ECMA-119 6.1.2: every logical block (and sector) of the image is 2048 bytes. */
export const SECTOR_BYTES = 2048

/** ECMA-119 6.2.1: sectors 0 to 15 are the system area, left zero. */
export const SYSTEM_AREA_SECTORS = 16

/** The largest extent one directory record describes: 4 GiB − 2048, a whole number of sectors. */
export const MAX_EXTENT_BYTES = 0xffff_f800

/** ECMA-119 6.8.2.1: at most eight levels of directories, the root counting as the first. */
export const MAX_DIRECTORY_LEVELS = 8

/** ECMA-119 9.4.4: a path table names a parent by a 16-bit directory number. */
export const MAX_DIRECTORIES = 0xffff

/** ECMA-119 9.1.1: a directory record's length is one byte; lengths are kept even. */
export const MAX_RECORD_BYTES = 254

/** Joliet specification 3.3: a name is at most 64 UCS-2 characters. */
export const JOLIET_MAX_NAME_UNITS = 64

/** ISO 9660 primary names: 8.3, which every level and every reader accepts. */
export const PRIMARY_STEM_CHARS = 8
export const PRIMARY_EXTENSION_CHARS = 3

/** Name of the Rock Ridge relocation directory (RRIP 1.12 4.1.5), as genisoimage and xorriso. */
export const RELOCATION_DIRECTORY = 'rr_moved'

/** The largest volume an ISO 9660 image can address: 32-bit sector numbers (ECMA-119 8.4.8). */
export const MAX_VOLUME_SECTORS = 0xffff_ffff

/** Disc capacities in 2048-byte sectors. */
export const DISC_SECTORS = {
  cd700: 360_000,
  dvd5: 2_295_104,
  dvd9: 4_173_824,
  bd25: 12_219_392,
} as const

export type DiscSize = keyof typeof DISC_SECTORS

/** Small buffers (directory sectors, small files) are gathered into output batches this large. */
export const OUTPUT_BATCH_BYTES = 1024 * 1024
