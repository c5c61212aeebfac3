import type { FastifyReply, FastifyRequest } from 'fastify'
import type { HttpSurface, UserInfo, WwwConfig } from '../master-surface.ts'
import type { Logger } from '../../util/logger.ts'
import { createAuthz, policyFromWww, type Authz } from '../authz/authz.ts'
import { allowedHostNames } from '../host-check.ts'
import { ANONYMOUS, createSessionCodec, type SessionCodec } from './session.ts'
import { userInfoOf, type LoginProvider } from './login-provider.ts'
import { userPasswordProvider } from './userpass-provider.ts'

/** Everything the HTTP layer derives from `www`: rebuilt when a reconfigure replaces it. */
export interface AuthState {
  www: WwwConfig
  /** The login provider `www.auth` names; undefined without auth (or when it names no registered one). */
  provider: LoginProvider | undefined
  sessions: SessionCodec
  authz: Authz
  allowedHosts: string[]
  allowedOrigins: string[]
  log: Logger
}

/** A request's user and what vouched for it; CSRF proofs are asked of `cookie` requests only. */
export type Identity =
  | { user: UserInfo; via: 'none' }
  | { user: UserInfo; via: 'authorization' }
  | { user: UserInfo; via: 'cookie'; sid: string }

/** The current AuthState of a surface, rebuilt only when `www`, `buildbotURL` or the plugins' registrations change. */
export function authStateSource(surface: HttpSurface): () => AuthState {
  let key: unknown[] = []
  let state: AuthState | undefined
  return () => {
    const providers = surface.loginProviders()
    const matchers = surface.roleMatchers()
    const next = [surface.www, surface.buildbotURL, providers, matchers]
    if (state && next.every((v, i) => same(v, key[i]))) return state
    const www = surface.www
    key = next
    state = {
      www,
      provider: providerOf(www, providers),
      sessions: createSessionCodec({ secret: www.cookieSecret, secure: surface.buildbotURL.startsWith('https:') }),
      authz: createAuthz({ ...policyFromWww(www, matchers), onMatcherError: (err) => surface.log.error({ err }, 'a role matcher failed; it gives no role') }),
      log: surface.log,
      allowedHosts: allowedHostNames({ buildbotURL: surface.buildbotURL, host: www.host, allowedHosts: www.allowedHosts }),
      allowedOrigins: www.allowedOrigins ?? [new URL(surface.buildbotURL).origin],
    }
    return state
  }
}

/** Identity, or element-wise identity for arrays (a surface may answer a fresh array each time). */
const same = (a: unknown, b: unknown) =>
  a === b || (Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => x === b[i]))

function providerOf(www: WwwConfig, providers: LoginProvider[]): LoginProvider | undefined {
  switch (www.auth.kind) {
    case 'none': return undefined
    case 'userpass': return userPasswordProvider(www.auth.users)
    case 'plugin': { const name = www.auth.name; return providers.find((p) => p.name === name) }
  }
}

/**
 * Who is asking: the `Authorization` header when the login provider reads one (scripts; wrong
 * credentials answer `{error}`, a 401), else the session cookie of the current provider, else
 * anonymous.
 */
export async function identify(req: FastifyRequest, s: AuthState): Promise<Identity | { error: string }> {
  if (s.provider?.fromRequest) {
    let u
    try { u = await s.provider.fromRequest({ headers: req.headers, remoteAddress: req.socket.remoteAddress ?? '', url: req.url }) } catch (err) {
      s.log.error({ err, provider: s.provider.name }, 'the login provider failed to check a request')
      return { error: `the login provider '${s.provider.name}' could not check the request` }
    }
    if (u && 'refuse' in u && typeof u.refuse === 'string') {
      s.log.warn({ provider: s.provider.name, reason: u.refuse, remoteAddress: req.socket.remoteAddress, url: req.url.split('?')[0] }, 'request identity refused')
      return { error: u.refuse }
    }
    if (u && 'user' in u) return { user: userInfoOf(u.user), via: 'authorization' }
  }
  const header = req.headers.authorization
  if (header && s.provider?.fromAuthorization) {
    let u
    try { u = await s.provider.fromAuthorization(header) } catch (err) {
      s.log.error({ err, provider: s.provider.name }, 'the login provider failed to check an Authorization header')
      return { error: `the login provider '${s.provider.name}' could not check the Authorization header` }
    }
    if (!u) s.log.warn({ provider: s.provider.name, scheme: header.split(' ')[0], url: req.url.split('?')[0] }, 'Authorization header refused')
    return u ? { user: userInfoOf(u), via: 'authorization' } : { error: 'the credentials in the Authorization header are not valid' }
  }
  if (!s.provider) return { user: ANONYMOUS, via: 'none' }
  const raw = req.cookies?.[s.sessions.cookieName]
  const unsigned = raw ? s.sessions.signer.unsign(raw) : undefined
  const session = unsigned?.valid && unsigned.value ? await s.sessions.verify(unsigned.value) : undefined
  // A session from another provider (before a reconfigure changed www.auth), or of a user a
  // reconfigure removed from www.auth.users, is no session.
  if (!session || session.provider !== s.provider.name) return { user: ANONYMOUS, via: 'none' }
  if (s.www.auth.kind === 'userpass' && !Object.hasOwn(s.www.auth.users, String(session.user.username))) return { user: ANONYMOUS, via: 'none' }
  return { user: session.user, via: 'cookie', sid: session.sid }
}

export const CSRF_HEADER = 'x-csrf-token'

/** Whether a control request carries the proof a cross-site page cannot forge (cookie sessions only). */
export function csrfOk(req: FastifyRequest, id: Identity, s: AuthState): boolean {
  if (id.via !== 'cookie') return true
  const h = req.headers[CSRF_HEADER]
  return s.sessions.csrfValid(id.sid, Array.isArray(h) ? h[0] : h)
}

export const CSRF_MESSAGE = `this request is authenticated by the session cookie and needs the ${CSRF_HEADER} header with the csrf_token of /config`

/** Cookie options of the session cookie: HttpOnly, SameSite=Lax, Secure on https. */
export function sessionCookieOptions(s: AuthState, maxAge?: number) {
  return { path: '/', httpOnly: true, sameSite: 'lax' as const, secure: s.sessions.secure, ...(maxAge !== undefined ? { maxAge } : {}) }
}

export async function setSession(reply: FastifyReply, s: AuthState, user: UserInfo, provider: string): Promise<void> {
  reply.setCookie(s.sessions.cookieName, s.sessions.signer.sign(await s.sessions.sign(user, provider)), sessionCookieOptions(s))
}
export function clearSession(reply: FastifyReply, s: AuthState): void {
  reply.setCookie(s.sessions.cookieName, '', sessionCookieOptions(s, 0))
}
