import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { InvalidInputError } from '../errors.ts'

/** Loads the node's peer key, creating it on first start: the peer id survives restarts. */
export async function loadOrCreatePeerKey(path: string): Promise<PrivateKey> {
  try {
    return privateKeyFromProtobuf(await readFile(path))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new InvalidInputError('PEER_KEY_UNREADABLE', `cannot read the peer key ${path}`, {
        cause: err,
      })
    }
  }

  const key = await generateKeyPair('Ed25519')
  await writePrivate(path, privateKeyToProtobuf(key))
  return key
}

/** A libp2p private-network key in the swarm.key format (/key/swarm/psk/1.0.0/, base16). */
export function generatePsk(): string {
  return `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}\n`
}

export async function readPsk(path: string): Promise<Uint8Array> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new InvalidInputError('PSK_UNREADABLE', `cannot read the network key ${path}`, {
      cause: err,
    })
  }

  const lines = text.trim().split(/\r?\n/)
  if (
    lines[0] !== '/key/swarm/psk/1.0.0/' ||
    lines[1] !== '/base16/' ||
    !/^[0-9a-f]{64}$/i.test(lines[2] ?? '')
  ) {
    throw new InvalidInputError(
      'PSK_INVALID',
      `${path} is not a swarm key; make one with pressmesh keygen --psk`,
    )
  }

  return Buffer.from(`${lines.join('\n')}\n`, 'utf8')
}

/** Peer ids, one per line; `#` starts a comment. */
export async function readAllowList(path: string): Promise<Set<string>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new InvalidInputError('ALLOW_LIST_UNREADABLE', `cannot read the allow-list ${path}`, {
      cause: err,
    })
  }

  const peers = new Set<string>()
  for (const line of text.split(/\r?\n/)) {
    const peer = line.replace(/#.*/, '').trim()

    if (peer === '') {
      continue
    }

    if (!/^[1-9A-HJ-NP-Za-km-z]{40,64}$/.test(peer)) {
      throw new InvalidInputError('ALLOW_LIST_INVALID', `${path}: "${peer}" is not a peer id`)
    }

    peers.add(peer)
  }

  return peers
}

export async function writePrivate(path: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, bytes, { mode: 0o600 })
  await rename(tmp, path)
}
