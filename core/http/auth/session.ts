import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { UserInfo } from '../master-surface.ts'

/**
 * Sessions live in a signed cookie, as Buildbot's `TWISTED_SESSION`: an HS256 JWT with claims
 * `{user_info, exp}`. No server-side store, so any master holding the secret accepts it.
 */
export const COOKIE_NAME = 'TWISTED_SESSION'
export const ANONYMOUS: UserInfo = Object.freeze({ anonymous: true })
const WEEK = 7 * 24 * 3600

const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url')

export interface SessionCodec {
  sign(user: UserInfo, now?: number): string
  /** The user of a cookie value; undefined when absent, malformed, forged or expired. */
  verify(token: string | undefined, now?: number): UserInfo | undefined
  /** The user of a request's Cookie header (anonymous when there is no valid session). */
  userOf(cookieHeader: string | string[] | undefined): UserInfo
  cookie(user: UserInfo): string
  clearCookie(): string
}

export function createSessionCodec(opts: { secret?: string; expirySeconds?: number; secure?: boolean } = {}): SessionCodec {
  const secret = opts.secret ?? randomBytes(16).toString('hex')
  const expiry = opts.expirySeconds ?? WEEK
  const name = opts.secure ? 'TWISTED_SECURE_SESSION' : COOKIE_NAME
  const mac = (data: string) => createHmac('sha256', secret).update(data).digest()
  const header = b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))

  const codec: SessionCodec = {
    sign(user, now = Date.now() / 1000) {
      const body = `${header}.${b64u(JSON.stringify({ user_info: user, exp: Math.floor(now) + expiry }))}`
      return `${body}.${b64u(mac(body))}`
    },
    verify(token, now = Date.now() / 1000) {
      if (!token) return undefined
      const parts = token.split('.')
      if (parts.length !== 3) return undefined
      const want = mac(`${parts[0]}.${parts[1]}`)
      const got = Buffer.from(parts[2]!, 'base64url')
      if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined
      try {
        const head = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString()) as { alg?: string }
        if (head.alg !== 'HS256') return undefined
        const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString()) as { user_info?: UserInfo; exp?: number }
        if (typeof claims.exp !== 'number' || claims.exp < now || typeof claims.user_info !== 'object' || !claims.user_info) return undefined
        return claims.user_info
      } catch { return undefined }
    },
    userOf(cookieHeader) {
      const raw = Array.isArray(cookieHeader) ? cookieHeader.join(';') : cookieHeader ?? ''
      for (const part of raw.split(/[;,]/)) {
        const eq = part.indexOf('=')
        if (eq < 0 || part.slice(0, eq).trim() !== name) continue
        const user = codec.verify(part.slice(eq + 1).trim())
        if (user) return user
      }
      return ANONYMOUS
    },
    cookie(user) { return `${name}=${codec.sign(user)}; Path=/; HttpOnly; SameSite=Lax${opts.secure ? '; Secure' : ''}` },
    clearCookie() { return `${name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0` },
  }
  return codec
}
