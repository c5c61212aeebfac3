import type { LoginProvider, LoginUser } from './login-provider.ts'
import { verifyPassword } from './password.ts'

/** The name of the built-in user/password provider (`www.auth: { users: {...} }`). */
export const USERPASS = 'userpass'

/**
 * The built-in login: a form in the UI, and HTTP Basic on any request for scripts. Users come
 * from `www.auth.users` (name → `hashPassword(...)`).
 */
export function userPasswordProvider(users: Record<string, string>): LoginProvider {
  const check = (name: string, password: string): LoginUser | undefined => {
    const stored = Object.hasOwn(users, name) ? users[name] : undefined
    if (stored === undefined || !verifyPassword(password, stored)) return undefined
    // Buildbot's default user-info provider sets email = username.
    return { username: name, email: name }
  }
  return {
    name: USERPASS, label: 'Log in',
    login: { kind: 'form', check },
    fromAuthorization(header) {
      const m = /^Basic\s+(\S+)$/i.exec(header)
      if (!m) return undefined
      const decoded = Buffer.from(m[1]!, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      return colon < 0 ? undefined : check(decoded.slice(0, colon), decoded.slice(colon + 1))
    },
  }
}
