import { createHash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { PluginApi } from '../../plugin/plugin.ts'
import type { PluginMigration } from '../../db/plugin-storage.ts'
import { HttpError, type UserInfo } from '../master-surface.ts'
import type { LoginUser } from './login-provider.ts'

/** Tokens are `bbn_` and 43 random base64url characters; only their SHA-256 is stored. */
export const TOKEN_PREFIX = 'bbn_'
/** The authz action name of the API token actions (`auth/tokens`): a role matcher lets signed-in users manage their own. */
export const TOKENS_AUTHZ = 'apitokens'

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex')
const BEARER = /^Bearer\s+(\S+)\s*$/i

/** The `<plugin>_tokens` table's migration (`auth` → `auth_tokens`). */
const tokenMigrations: Record<string, PluginMigration> = {
  '0001_tokens': {
    async up(db, { bigint, createTableWithId, prefix }) {
      await createTableWithId(`${prefix}tokens`, 'id')
        .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('username', 'varchar(255)', (c) => c.notNull())
        .addColumn('user_info', 'text', (c) => c.notNull())
        .addColumn('name', 'varchar(100)', (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull()).execute()
      await db.schema.createIndex(`${prefix}tokens_username`).on(`${prefix}tokens`).column('username').execute()
    },
  },
}

/** What a login provider does with API tokens: check a request's `Authorization` header. */
export interface ApiTokens {
  /** The token's user (as it was when the token was made, with `api_token` set), or undefined. */
  fromAuthorization(header: string): Promise<LoginUser | undefined>
}

/**
 * Per-user API tokens for scripts, for a plugin's login provider: created and revoked through
 * JSON-RPC on `auth/tokens` (the UI's tokens page; authz action `apitokens`), shown once, stored
 * hashed in the plugin's `<plugin>_tokens` table, and accepted as `Authorization: Bearer <token>`
 * with the user's name, email and groups as they were when the token was made. A token cannot
 * make tokens. `accept` may refuse a token's user (one no longer let in).
 *
 * @example
 *   const tokens = addApiTokens(api)
 *   api.addLoginProvider({ ..., apiTokens: true, fromAuthorization: (h) => tokens.fromAuthorization(h) })
 */
export function addApiTokens(api: PluginApi, opts: { accept?: (user: LoginUser) => boolean } = {}): ApiTokens {
  api.addMigrations(tokenMigrations)
  let store: { db: Kysely<any>; table: string } | undefined
  api.onStart((rt) => { const s = rt.storage<any>(); store = { db: s.db, table: `${s.prefix}tokens` } })
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
      const s = needStore()
      const row = await s.db.insertInto(s.table)
        .values({ token_hash: hashOf(token), username, user_info: JSON.stringify(info), name, created_at }).returning('id').executeTakeFirstOrThrow()
      return { tokenid: Number(row.id), name, created_at, token }
    },
  })
  api.addRpcAction({
    path: 'auth/tokens', method: 'list', authzAction: TOKENS_AUTHZ,
    async handler({ user }) {
      const s = needStore()
      const rows = await s.db.selectFrom(s.table).select(['id', 'name', 'created_at']).where('username', '=', owner(user)).orderBy('id').execute()
      return rows.map((r) => ({ tokenid: Number(r.id), name: String(r.name), created_at: Number(r.created_at) }))
    },
  })
  api.addRpcAction({
    path: 'auth/tokens/n:tokenid', method: 'revoke', authzAction: TOKENS_AUTHZ,
    async handler({ path, user }) {
      const s = needStore()
      const res = await s.db.deleteFrom(s.table).where('id', '=', Number(path.tokenid)).where('username', '=', owner(user)).executeTakeFirst()
      if (!Number(res.numDeletedRows)) throw new HttpError(404, `you have no API token ${path.tokenid}`)
      return { revoked: Number(path.tokenid) }
    },
  })

  return {
    async fromAuthorization(header) {
      const m = BEARER.exec(header)
      if (!m || !m[1]!.startsWith(TOKEN_PREFIX) || !store) return undefined
      const row = await store.db.selectFrom(store.table).select(['id', 'user_info']).where('token_hash', '=', hashOf(m[1]!)).executeTakeFirst()
      if (!row) return undefined
      const info = JSON.parse(String(row.user_info)) as UserInfo
      const user: LoginUser = { ...info, username: String(info.username), api_token: Number(row.id) }
      return opts.accept && !opts.accept(user) ? undefined : user
    },
  }
}
