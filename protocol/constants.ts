/** A precomputed manifest sits beside its master under the master's name plus this suffix. */
export const MANIFEST_SUFFIX = '.pressmesh.json'

export const PRESSMESH_VERSION = '0.1.0'
