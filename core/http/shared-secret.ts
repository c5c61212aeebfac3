import { createHash, timingSafeEqual } from 'node:crypto'

/** The secret the caller presented: `Authorization: Bearer <s>` or the password of `Basic`. */
export function presented(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization
  const h = Array.isArray(auth) ? auth[0] : auth
  if (!h) return undefined
  const [scheme, value = ''] = h.trim().split(/\s+/, 2)
  if (/^bearer$/i.test(scheme!)) return value
  if (/^basic$/i.test(scheme!)) {
    const decoded = Buffer.from(value, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    return colon < 0 ? undefined : decoded.slice(colon + 1)
  }
  return undefined
}

/** Constant-time: both sides are hashed first, so neither length nor content leaks through timing. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
}
