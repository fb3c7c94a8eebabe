import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { access } from 'node:fs/promises'
import type { Role, TokenView } from '../protocol/api.ts'
import { NotFoundError } from '../protocol/errors.ts'
import { writePrivate } from '../protocol/mesh/keys.ts'
import type { CoordinatorDb } from './db.ts'
import type { TokenRecord } from './records.ts'

// Bearer tokens. A token is `pm_` and 32 random bytes in base64url; only its SHA-256 is stored.
// Roles nest: admin can do everything, release engineers submit and cancel jobs, operators drain
// nodes, and every role can read.

export const TOKEN_PREFIX = 'pm_'

const GRANTS: Record<Role, readonly Role[]> = {
  admin: ['admin', 'release-engineer', 'operator', 'viewer'],
  'release-engineer': ['release-engineer', 'viewer'],
  operator: ['operator', 'viewer'],
  viewer: ['viewer'],
}

/** Whether a token of role `held` may call a route that needs `needed`. */
export function grants(held: Role, needed: Role): boolean {
  return GRANTS[held].includes(needed)
}

export interface Principal {
  id: string
  name: string
  role: Role
}

export class TokenBook {
  private readonly byHash = new Map<string, TokenRecord>()
  private readonly byId = new Map<string, TokenRecord>()

  private constructor(private readonly db: CoordinatorDb) {}

  static async open(db: CoordinatorDb): Promise<TokenBook> {
    const book = new TokenBook(db)
    for await (const record of db.sub.tokens.values()) {
      book.byId.set(record.id, record)
      if (record.revokedAt === undefined) {
        book.byHash.set(record.hash, record)
      }
    }
    return book
  }

  get size(): number {
    return this.byId.size
  }

  /** The principal a bearer token stands for, or undefined. */
  authenticate(secret: string): Principal | undefined {
    if (!secret.startsWith(TOKEN_PREFIX) || secret.length > 128) {
      return undefined
    }
    const hash = hashToken(secret)
    const record = this.byHash.get(hash)
    // The map lookup already matched; compare again in constant time for good measure.
    if (record === undefined || !timingSafeEqual(Buffer.from(record.hash), Buffer.from(hash))) {
      return undefined
    }
    return { id: record.id, name: record.name, role: record.role }
  }

  async create(name: string, role: Role): Promise<TokenView & { token: string }> {
    const secret = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`
    const record: TokenRecord = {
      id: `t${randomBytes(6).toString('hex')}`,
      name,
      role,
      hash: hashToken(secret),
      createdAt: Date.now(),
    }
    await this.db.commit([{ type: 'put', sublevel: 'tokens', key: record.id, value: record }])
    this.byId.set(record.id, record)
    this.byHash.set(record.hash, record)
    return { ...view(record), token: secret }
  }

  async revoke(id: string): Promise<TokenView> {
    const record = this.byId.get(id)
    if (record === undefined) {
      throw new NotFoundError('TOKEN_NOT_FOUND', `no token ${id}`)
    }
    if (record.revokedAt === undefined) {
      const revoked = { ...record, revokedAt: Date.now() }
      await this.db.commit([{ type: 'put', sublevel: 'tokens', key: id, value: revoked }])
      this.byId.set(id, revoked)
      this.byHash.delete(record.hash)
    }
    return view(this.byId.get(id)!)
  }

  list(): TokenView[] {
    return [...this.byId.values()].map(view)
  }

  /**
   * On the first start (no tokens at all) creates an admin token and writes it to `file`,
   * readable by its owner only. Returns the secret then; undefined on later starts.
   */
  async ensureAdmin(file: string): Promise<string | undefined> {
    if (this.byId.size > 0) {
      return undefined
    }
    const created = await this.create('admin', 'admin')
    await writePrivate(file, `${created.token}\n`)
    return created.token
  }
}

export async function fileExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  )
}

function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

function view(record: TokenRecord): TokenView {
  return {
    id: record.id,
    name: record.name,
    role: record.role,
    createdAt: record.createdAt,
    revokedAt: record.revokedAt,
  }
}
