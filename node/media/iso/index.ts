// ISO 9660 images with Joliet and Rock Ridge, streamed from the chunk store; see README.md.

export { DISC_SECTORS, type DiscSize } from './constants.ts'
export { DISC_SET_INDEX_VERSION, type DiscSetIndex } from './disc-set-index.ts'
export { type IsoOptions, isoMedium } from './iso-medium.ts'
