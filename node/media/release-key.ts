import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { InvalidInputError, NotFoundError } from '../../protocol/errors.ts'

// The release key signs every medium's SHA256SUMS with Ed25519 (RFC 8032). Keys are PEM files:
// the private key as PKCS#8 ("BEGIN PRIVATE KEY"), the public key as SubjectPublicKeyInfo
// ("BEGIN PUBLIC KEY"), the forms OpenSSL reads and writes. The signature file holds the raw
// 64-byte signature, so that `openssl pkeyutl -verify -pubin -inkey release.pub.pem -rawin
// -in SHA256SUMS -sigfile SHA256SUMS.sig` checks it without Pressmesh.

export const PRIVATE_KEY_FILE = 'release.key.pem'
export const PUBLIC_KEY_FILE = 'release.pub.pem'

export interface ReleaseKeyPair {
  privatePem: string
  publicPem: string
}

export function generateReleaseKeys(): ReleaseKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  }
}

export async function readPrivateKey(path: string): Promise<KeyObject> {
  const key = await parseKey(path, (pem) => createPrivateKey(pem))
  return ed25519(key, path)
}

export async function readPublicKey(path: string): Promise<KeyObject> {
  // A private key file also yields its public half, which is handy on the signing machine.
  const key = await parseKey(path, (pem) => createPublicKey(pem))
  return ed25519(key, path)
}

export function signSums(sums: Uint8Array, key: KeyObject): Buffer {
  return sign(null, sums, key)
}

export function sumsSignatureValid(sums: Uint8Array, signature: Uint8Array, key: KeyObject) {
  return signature.length === 64 && verify(null, sums, key, signature)
}

/** The first 16 hex characters of the SHA-256 of the public key's DER, to name a key. */
export function keyFingerprint(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key
  const der = publicKey.export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(der).digest('hex').slice(0, 16)
}

async function parseKey(path: string, parse: (pem: string) => KeyObject): Promise<KeyObject> {
  let pem: string

  try {
    pem = await readFile(path, 'utf8')
  } catch (err) {
    throw new NotFoundError('KEY_NOT_FOUND', `cannot read the key file ${path}`, { cause: err })
  }

  try {
    return parse(pem)
  } catch (err) {
    throw new InvalidInputError('KEY_INVALID', `${path} is not a PEM key`, { cause: err })
  }
}

function ed25519(key: KeyObject, path: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new InvalidInputError(
      'KEY_INVALID',
      `${path} is a ${key.asymmetricKeyType} key; release keys are Ed25519`,
    )
  }

  return key
}
