import * as oidc from 'openid-client'
import type { LoginProvider, LoginUser } from '../../core/index.ts'
import { pkceChallenge, pkceVerifier } from './oauth-client.ts'
import type { OidcOptions } from './options.ts'

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/

/** The user fields from an OIDC provider's claims (ID token and userinfo), by the configured mapping. */
export function mapClaims(claims: Record<string, unknown>, mapping: OidcOptions['mapping'] = {}): LoginUser {
  const str = (k: string | undefined) => (k && typeof claims[k] === 'string' && claims[k] ? claims[k] as string : undefined)
  const email = str(mapping.email ?? 'email')
  const username = str(mapping.username ?? 'preferred_username') ?? email ?? str('sub')
  if (!username) throw new Error(`the identity provider's claims have no '${mapping.username ?? 'preferred_username'}', email or sub`)
  let groups: string[] = []
  if (mapping.groups) {
    const g = claims[mapping.groups]
    groups = Array.isArray(g) ? g.filter((x): x is string => typeof x === 'string') : typeof g === 'string' ? g.split(/[\s,]+/).filter(Boolean) : []
  }
  return { username, email, full_name: str(mapping.full_name ?? 'name'), groups }
}

/**
 * Sign in with an OpenID Connect provider (`openid-client`): the discovery document gives the
 * endpoints, the code is exchanged with PKCE and checked state, the ID token is verified, and the
 * userinfo endpoint's claims are merged in. Plain http is accepted for loopback providers only.
 */
export function oidcProvider(o: OidcOptions, secret: () => Promise<string>, extra: Partial<LoginProvider> = {}): LoginProvider {
  let config: Promise<{ c: oidc.Configuration; secret: string }> | undefined
  const used = new Map<string, number>()
  const discovered = () => config ??= (async () => {
    const s = await secret()
    const url = new URL(o.discoveryUrl)
    const insecure = url.protocol === 'http:'
    if (insecure && !LOOPBACK.test(url.hostname)) throw new Error(`oidc.discoveryUrl: ${o.discoveryUrl} must be https (plain http only on loopback)`)
    const c = await oidc.discovery(url, o.clientId, s, undefined, insecure ? { execute: [oidc.allowInsecureRequests] } : undefined)
    return { c, secret: s }
  })().catch((err) => { config = undefined; throw err })
  const scope = (o.scope ?? ['openid', 'email', 'profile']).join(' ')
  return {
    name: 'oidc', label: `Sign in with ${o.name ?? 'OIDC Provider'}`,
    login: {
      kind: 'redirect',
      async url({ callbackURL, state }) {
        const { c, secret: s } = await discovered()
        return oidc.buildAuthorizationUrl(c, {
          redirect_uri: callbackURL, scope, state, code_challenge: pkceChallenge(pkceVerifier(s, state)), code_challenge_method: 'S256',
        }).href
      },
    },
    async callback({ query, callbackURL }) {
      if (query.error) throw new Error(`the identity provider refused: ${query.error}${query.error_description ? ` (${query.error_description})` : ''}`)
      if (!query.code || !query.state) throw new Error('the identity provider sent no code')
      const now = Date.now()
      for (const [k, t] of used) if (t < now) used.delete(k)
      if (used.has(query.state)) throw new Error('this login was already completed; start it again from the login button')
      used.set(query.state, now + 15 * 60_000)
      const { c, secret: s } = await discovered()
      const current = new URL(callbackURL)
      for (const [k, v] of Object.entries(query)) current.searchParams.set(k, v)
      const tokens = await oidc.authorizationCodeGrant(c, current, { pkceCodeVerifier: pkceVerifier(s, query.state), expectedState: query.state, idTokenExpected: true })
      const idClaims = (tokens.claims() ?? {}) as Record<string, unknown>
      let info: Record<string, unknown> = {}
      if (c.serverMetadata().userinfo_endpoint && typeof idClaims.sub === 'string') {
        info = await oidc.fetchUserInfo(c, tokens.access_token, idClaims.sub) as Record<string, unknown>
      }
      return mapClaims({ ...idClaims, ...info }, o.mapping)
    },
    ...extra,
  }
}
