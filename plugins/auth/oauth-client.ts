import { createHash, createHmac } from 'node:crypto'
import Fastify from 'fastify'
import fastifyOauth2 from '@fastify/oauth2'
import type { LoginCallback, LoginStart } from '../../core/index.ts'

/** An OAuth2 authorisation server's endpoints (GitHub's, a Gitea instance's). */
export interface OAuthEndpoints { authorizeUrl: string; tokenUrl: string }

export interface OAuthClient {
  /** The authorisation URL for a login: `state` from core, a PKCE S256 challenge derived from it. */
  authorizeURL(start: LoginStart): Promise<string>
  /** Exchanges the callback's `code` (with the PKCE verifier of its `state`) for an access token. */
  exchange(cb: LoginCallback): Promise<string>
}

/**
 * The PKCE verifier of a login, derived from its `state` with a key only the master knows (the
 * client secret): nothing is stored between the redirect and the callback, and a code obtained
 * for one login cannot be redeemed with another login's state.
 */
export function pkceVerifier(secret: string, state: string): string {
  return createHmac('sha256', createHash('sha256').update(`pkce\0${secret}`).digest()).update(state).digest('base64url')
}
export const pkceChallenge = (verifier: string) => createHash('sha256').update(verifier).digest('base64url')

/** The `simple-oauth2` AuthorizationCode client `@fastify/oauth2` decorates with (its `oauth2` member; untyped there). */
interface AuthorizationCode {
  authorizeURL(params: Record<string, unknown>): string
  getToken(params: Record<string, unknown>): Promise<{ token: Record<string, unknown> }>
}

const split = (u: string) => { const x = new URL(u); return { host: x.origin, path: x.pathname + x.search } }

/**
 * An OAuth2 authorisation-code client built on `@fastify/oauth2` (its `simple-oauth2` client; core
 * owns the routes, the state cookie and the session, so the plugin's own routes are not mounted).
 * The secret is read when the first login starts. A code is redeemed at most once per state.
 */
export function createOAuthClient(opts: { name: string; endpoints: OAuthEndpoints; clientId: string; secret: () => Promise<string>; scope: string[] }): OAuthClient {
  let ready: Promise<{ ns: { oauth2: AuthorizationCode }; secret: string }> | undefined
  const used = new Map<string, number>()
  const client = () => ready ??= (async () => {
    const secret = await opts.secret()
    const authorize = split(opts.endpoints.authorizeUrl), token = split(opts.endpoints.tokenUrl)
    const app = Fastify({ logger: false })
    await app.register(fastifyOauth2, {
      name: 'client', scope: opts.scope, pkce: 'S256', callbackUri: () => '',
      credentials: {
        client: { id: opts.clientId, secret },
        auth: { authorizeHost: authorize.host, authorizePath: authorize.path, tokenHost: token.host, tokenPath: token.path },
        options: { authorizationMethod: 'body' },
      },
    })
    await app.ready()
    return { ns: (app as unknown as { client: { oauth2: AuthorizationCode } }).client, secret }
  })().catch((err) => { ready = undefined; throw err })

  return {
    async authorizeURL({ callbackURL, state }) {
      const { ns, secret } = await client()
      return ns.oauth2.authorizeURL({
        redirect_uri: callbackURL, scope: opts.scope, state,
        code_challenge: pkceChallenge(pkceVerifier(secret, state)), code_challenge_method: 'S256',
      })
    },
    async exchange({ query, callbackURL }) {
      if (query.error) throw new Error(`the identity provider refused: ${query.error}${query.error_description ? ` (${query.error_description})` : ''}`)
      if (!query.code || !query.state) throw new Error('the identity provider sent no code')
      const now = Date.now()
      for (const [s, t] of used) if (t < now) used.delete(s)
      if (used.has(query.state)) throw new Error('this login was already completed; start it again from the login button')
      used.set(query.state, now + 15 * 60_000)
      const { ns, secret } = await client()
      let tok
      try {
        tok = await ns.oauth2.getToken({ code: query.code, redirect_uri: callbackURL, code_verifier: pkceVerifier(secret, query.state) })
      } catch (err) {
        const e = err as { message?: string; data?: { payload?: unknown } }
        throw new Error(`exchanging the code failed: ${e.message ?? String(err)}${e.data?.payload ? ` ${JSON.stringify(e.data.payload).slice(0, 200)}` : ''}`)
      }
      const access = tok.token.access_token
      if (typeof access !== 'string' || !access) {
        const error = (tok.token as { error?: unknown; error_description?: unknown })
        throw new Error(`the identity provider gave no access token${error.error ? `: ${String(error.error)} ${String(error.error_description ?? '')}` : ''}`)
      }
      return access
    },
  }
}
