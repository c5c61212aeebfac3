import { createHash, randomBytes } from 'node:crypto'
import { HttpError, type Generated, type LoginUser, type PluginApi, type PluginMigration, type PluginStorage, type UserInfo } from '../../core/index.ts'
import { TOKENS_AUTHZ } from './roles.ts'

export interface TokenTables {
  auth_tokens: { id: Generated<number>; token_hash: string; username: string; user_info: string; name: string; created_at: number }
}

export const tokenMigrations: Record<string, PluginMigration> = {
  '0001_tokens': {
    async up(db, { bigint, createTableWithId }) {
      await createTableWithId('auth_tokens', 'id')
        .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('username', 'varchar(255)', (c) => c.notNull())
        .addColumn('user_info', 'text', (c) => c.notNull())
        .addColumn('name', 'varchar(100)', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull()).execute()
      await db.schema.createIndex('auth_tokens_username').on('auth_tokens').column('username').execute()
    },
  },
}

/** Tokens are `bbn_` and 43 random base64url characters; only their SHA-256 is stored. */
export const TOKEN_PREFIX = 'bbn_'
const hashOf = (token: string) => createHash('sha256').update(token).digest('hex')
const BEARER = /^Bearer\s+(\S+)\s*$/i


/**
 * Per-user API tokens for scripts: created and revoked through JSON-RPC on `auth/tokens` (the UI's
 * tokens page), shown once, stored hashed, and accepted as `Authorization: Bearer <token>` with the
 * user's name, email and groups as they were when the token was made. A token cannot make tokens.
 */
export function addApiTokens(api: PluginApi): { fromAuthorization(header: string): Promise<LoginUser | undefined> } {
  api.addMigrations(tokenMigrations)
  let store: PluginStorage<TokenTables> | undefined
  api.onStart((rt) => { store = rt.storage<TokenTables>() })
  const needStore = () => { if (!store) throw new Error('API tokens are not ready yet (the master is starting)'); return store }
  const owner = (user: UserInfo): string => {
    if (user.anonymous || typeof user.username !== 'string' || !user.username) throw new HttpError(400, 'sign in to manage API tokens')
    if (user.api_token !== undefined) throw new HttpError(400, 'an API token cannot manage API tokens; sign in with the browser')
    return user.username
  }

  api.addRpcAction({
    path: 'auth/tokens', method: 'create', authzAction: TOKENS_AUTHZ,
    async handler({ params, user }) {
      const username = owner(user)
      const name = typeof params.name === 'string' ? params.name.trim() : ''
      if (!name || name.length > 100) throw new HttpError(400, "give the token a name of 1 to 100 characters: {\"name\": \"deploy script\"}")
      const token = TOKEN_PREFIX + randomBytes(32).toString('base64url')
      const info: UserInfo = { username }
      for (const k of ['email', 'full_name'] as const) if (typeof user[k] === 'string') info[k] = user[k]
      if (Array.isArray(user.groups)) info.groups = user.groups.filter((g) => typeof g === 'string')
      const created_at = Math.floor(Date.now() / 1000)
      const row = await needStore().db.insertInto('auth_tokens')
        .values({ token_hash: hashOf(token), username, user_info: JSON.stringify(info), name, created_at }).returning('id').executeTakeFirstOrThrow()
      return { tokenid: Number(row.id), name, created_at, token }
    },
  })
  api.addRpcAction({
    path: 'auth/tokens', method: 'list', authzAction: TOKENS_AUTHZ,
    async handler({ user }) {
      const rows = await needStore().db.selectFrom('auth_tokens').select(['id', 'name', 'created_at']).where('username', '=', owner(user)).orderBy('id').execute()
      return rows.map((r) => ({ tokenid: Number(r.id), name: r.name, created_at: Number(r.created_at) }))
    },
  })
  api.addRpcAction({
    path: 'auth/tokens/n:tokenid', method: 'revoke', authzAction: TOKENS_AUTHZ,
    async handler({ path, user }) {
      const res = await needStore().db.deleteFrom('auth_tokens').where('id', '=', Number(path.tokenid)).where('username', '=', owner(user)).executeTakeFirst()
      if (!Number(res.numDeletedRows)) throw new HttpError(404, `you have no API token ${path.tokenid}`)
      return { revoked: Number(path.tokenid) }
    },
  })

  return {
    async fromAuthorization(header) {
      const m = BEARER.exec(header)
      if (!m || !m[1]!.startsWith(TOKEN_PREFIX) || !store) return undefined
      const row = await store.db.selectFrom('auth_tokens').select(['id', 'user_info']).where('token_hash', '=', hashOf(m[1]!)).executeTakeFirst()
      if (!row) return undefined
      const info = JSON.parse(row.user_info) as UserInfo
      return { ...info, username: String(info.username), api_token: Number(row.id) }
    },
  }
}
