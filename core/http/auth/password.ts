import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto'

/**
 * Password hashes for the built-in user/password auth: `scrypt$<salt base64>$<hash base64>`.
 * Put the output of `hashPassword('secret')` into `www.auth.users` instead of the password.
 *
 * @example
 *   www: { auth: { kind: 'userpass', users: { alice: hashPassword('s3cret') } } }
 */
export function hashPassword(plain: string): string {
  const salt = randomBytes(16)
  return `scrypt$${salt.toString('base64')}$${scryptSync(plain, salt, 32).toString('base64')}`
}

/** Checks a password against a stored `scrypt$...` hash, or a plain string (for tests and local setups). */
export function verifyPassword(plain: string, stored: string): boolean {
  const m = /^scrypt\$([^$]+)\$([^$]+)$/.exec(stored)
  if (!m) {
    const a = Buffer.from(plain), b = Buffer.from(stored)
    return a.length === b.length && timingSafeEqual(a, b)
  }
  const want = Buffer.from(m[2]!, 'base64')
  const got = scryptSync(plain, Buffer.from(m[1]!, 'base64'), want.length)
  return timingSafeEqual(got, want)
}
