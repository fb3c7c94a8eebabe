import { MAX_MANIFEST_BYTES } from '../manifest.ts'

/** Largest frame on the chunks protocol: a maximum-size chunk plus its header. */
export const MAX_CHUNK_FRAME_BYTES = 16 * 1024 * 1024 + 64
/** Largest frame on the manifest protocol. */
export const MAX_MANIFEST_FRAME_BYTES = MAX_MANIFEST_BYTES + 64
/** Chunk ids one request may name. */
export const MAX_IDS_PER_REQUEST = 32
/** Largest gossip message we decode. */
export const MAX_GOSSIP_BYTES = 1024 * 1024

/** Time a peer has to send its request once it opened a stream. */
export const REQUEST_READ_TIMEOUT_MS = 10_000
/** Time we give a peer for one chunk before the request is given up. */
export const CHUNK_REQUEST_TIMEOUT_MS = 30_000
/** Concurrent inbound streams per protocol and connection. */
export const MAX_INBOUND_STREAMS = 64
