import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { SignJWT, jwtVerify } from 'jose'
import { signerFactory } from '@fastify/cookie'
import type { UserInfo } from '../master-surface.ts'

/**
 * Sessions live in a cookie, as Buildbot's `TWISTED_SESSION`: an HS256 JWT (`jose`) with claims
 * `{user_info, sid, provider, exp}`, the cookie itself signed by `@fastify/cookie`. No server-side store, so
 * any master holding the secret accepts it. `sid` binds the CSRF token to the session.
 */
export const COOKIE_NAME = 'TWISTED_SESSION'
export const SECURE_COOKIE_NAME = 'TWISTED_SECURE_SESSION'
/** The short-lived cookie carrying an OAuth login's state and redirect between login and callback. */
export const LOGIN_COOKIE_NAME = 'BBN_LOGIN_STATE'
export const ANONYMOUS: UserInfo = Object.freeze({ anonymous: true })
const WEEK = 7 * 24 * 3600
const LOGIN_STATE_SECONDS = 600

export interface Session { user: UserInfo; sid: string; provider: string }
export interface LoginState { state: string; provider: string; redirect: string }

export interface SessionCodec {
  /** `TWISTED_SESSION`, or `TWISTED_SECURE_SESSION` when cookies are Secure (https). */
  readonly cookieName: string
  readonly secure: boolean
  /** Signs and verifies cookie values for `@fastify/cookie`. */
  readonly signer: { sign(value: string): string; unsign(value: string): { valid: boolean; renew: boolean; value: string | null } }
  sign(user: UserInfo, provider: string, now?: number): Promise<string>
  /** The session of a token; undefined when malformed, forged or expired. */
  verify(token: string | undefined, now?: number): Promise<Session | undefined>
  /** The CSRF token of a session: the UI gets it in `/config` and sends it back in `X-CSRF-Token`. */
  csrfToken(sid: string): string
  csrfValid(sid: string, token: string | undefined): boolean
  signLoginState(s: LoginState): Promise<string>
  verifyLoginState(token: string | undefined): Promise<LoginState | undefined>
}

const derive = (secret: string, purpose: string) => createHash('sha256').update(`${purpose}\0${secret}`).digest()

export function createSessionCodec(opts: { secret?: string; expirySeconds?: number; secure?: boolean } = {}): SessionCodec {
  const secret = opts.secret ?? randomBytes(16).toString('hex')
  const expiry = opts.expirySeconds ?? WEEK
  const jwtKey = new Uint8Array(derive(secret, 'session-jwt'))
  const csrfKey = derive(secret, 'csrf')
  const signer = signerFactory(derive(secret, 'cookie').toString('base64'))
  const sec = (now?: number) => Math.floor(now ?? Date.now() / 1000)
  const verifyJwt = async (token: string | undefined, now?: number) => {
    if (!token) return undefined
    try {
      const { payload } = await jwtVerify(token, jwtKey, { algorithms: ['HS256'], currentDate: new Date(sec(now) * 1000) })
      return payload as Record<string, unknown>
    } catch { return undefined }
  }
  const codec: SessionCodec = {
    cookieName: opts.secure ? SECURE_COOKIE_NAME : COOKIE_NAME,
    secure: !!opts.secure,
    signer,
    sign(user, provider, now) {
      return new SignJWT({ user_info: user, sid: randomBytes(16).toString('base64url'), provider })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setExpirationTime(sec(now) + expiry).sign(jwtKey)
    },
    async verify(token, now) {
      const p = await verifyJwt(token, now)
      if (!p || typeof p.sid !== 'string' || typeof p.provider !== 'string' || typeof p.user_info !== 'object' || !p.user_info) return undefined
      return { user: p.user_info as UserInfo, sid: p.sid, provider: p.provider }
    },
    csrfToken: (sid) => createHmac('sha256', csrfKey).update(sid).digest('base64url'),
    csrfValid(sid, token) {
      if (!token) return false
      const want = Buffer.from(codec.csrfToken(sid)), got = Buffer.from(token)
      return want.length === got.length && timingSafeEqual(want, got)
    },
    signLoginState(s) {
      return new SignJWT({ login: s }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setExpirationTime(sec() + LOGIN_STATE_SECONDS).sign(jwtKey)
    },
    async verifyLoginState(token) {
      const l = (await verifyJwt(token))?.login as LoginState | undefined
      return l && typeof l.state === 'string' && typeof l.provider === 'string' && typeof l.redirect === 'string' ? l : undefined
    },
  }
  return codec
}
