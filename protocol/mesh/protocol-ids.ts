// Versioned protocol ids and gossip topics of the mesh (DESIGN.md, "The mesh"). A change to a
// message or frame format gets a new version, never a silent change under the same id.

export const PRESENCE_TOPIC = 'pressmesh/1/presence'
export const HAVE_TOPIC = 'pressmesh/1/have'
export const EVENTS_TOPIC = 'pressmesh/1/events'

export const CHUNKS_PROTOCOL = '/pressmesh/chunks/1'
export const MANIFEST_PROTOCOL = '/pressmesh/manifest/1'
export const DISPATCH_PROTOCOL = '/pressmesh/dispatch/1'
