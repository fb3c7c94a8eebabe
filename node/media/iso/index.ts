export { DISC_SECTORS, type DiscSize } from './constants.ts'
export { type IsoOptions, isoMedium } from './iso-medium.ts'
