import { existsSync, readFileSync } from 'node:fs'
import { chmod, writeFile } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { timingSafeEqual } from 'node:crypto'
import { addApiTokens, definePlugin, TOKENS_AUTHZ, type LoginUser, type PluginApi, type ProxiedRequest, type RequestIdentity, type RoleMatcherFn } from '../../core/index.ts'
import { oauth2ProxyOptionsSchema, type Oauth2ProxyOptions } from './options.ts'
import { oauth2ProxyConfig } from './proxy-config.ts'

export { oauth2ProxyConfig } from './proxy-config.ts'
export type { Oauth2ProxyOptions } from './options.ts'

const same = (a: string, b: string) => { const x = Buffer.from(a), y = Buffer.from(b); return x.length === y.length && timingSafeEqual(x, y) }
const header = (req: ProxiedRequest, name: string): string | undefined => {
  const v = req.headers[name.toLowerCase()]
  return (Array.isArray(v) ? v[0] : v)?.trim() || undefined
}
/** `::ffff:127.0.0.1` → `127.0.0.1`, so configured IPv4 addresses match IPv4-mapped peers. */
const plainAddress = (a: string) => a.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1')
const lower = (s: string) => s.toLowerCase()

/** Whether the proxy's user may be let in: `users`, `admins` and `teams` as oauth2-proxy checks them (none given: everyone). */
export function allowedIn(user: LoginUser, o: Pick<Oauth2ProxyOptions, 'users' | 'admins' | 'teams'>): boolean {
  const users = [...(o.users ?? []), ...(o.admins ?? [])].map(lower)
  const teams = (o.teams ?? []).map(lower)
  if (!users.length && !teams.length) return true
  if (users.includes(lower(user.username))) return true
  // With Basic auth the proxy passes no groups: it checked the teams itself.
  if (teams.length && user.groups === undefined) return true
  return (user.groups ?? []).some((g) => teams.includes(lower(g)))
}

/**
 * The identity oauth2-proxy passes: its shared password as Basic auth (the user name before the
 * colon), or, when `trustedHeaders` is set, the user, email and groups headers from one of the
 * proxy's addresses. A wrong password or headers from elsewhere are refused, not ignored.
 */
export function proxyIdentity(o: Oauth2ProxyOptions, password: () => string): (req: ProxiedRequest) => RequestIdentity {
  const t = o.trustedHeaders
  const names = { user: t?.user ?? 'X-Forwarded-User', email: t?.email ?? 'X-Forwarded-Email', groups: t?.groups ?? 'X-Forwarded-Groups' }
  return (req) => {
    let user: LoginUser | undefined
    const auth = header(req, 'authorization')
    const fromProxy = !!t && t.proxyAddresses.map(plainAddress).includes(plainAddress(req.remoteAddress))
    if (auth && /^Basic\s/i.test(auth)) {
      const decoded = Buffer.from(auth.replace(/^Basic\s+/i, ''), 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      if (colon <= 0 || !same(decoded.slice(colon + 1), password())) return { refuse: 'the proxy credentials are wrong' }
      user = { username: decoded.slice(0, colon) }
    } else if (header(req, names.user) !== undefined) {
      if (!fromProxy) return { refuse: `identity headers are accepted from the sign-in proxy only, not from ${req.remoteAddress}` }
      user = { username: header(req, names.user)! }
    } else {
      return undefined
    }
    if (fromProxy) {
      const email = header(req, names.email)
      const groups = header(req, names.groups)
      if (email) user.email = email
      if (groups !== undefined) user.groups = groups.split(',').map((g) => g.trim()).filter(Boolean)
    }
    if (!allowedIn(user, o)) return { refuse: `${user.username} is not among the users and teams allowed in` }
    return { user }
  }
}

/** Admins may do everything; with groups from the proxy's headers, members of a project's owner act on its builds. */
export function proxyRoles(admins: readonly string[]): RoleMatcherFn {
  const adminSet = new Set(admins.map(lower))
  return ({ user, target }) => {
    if (typeof user.username === 'string' && adminSet.has(lower(user.username))) return ['admin']
    // Everyone let in manages their own API tokens.
    if (target.authzAction === TOKENS_AUTHZ) return user.username ? ['admin'] : []
    if (target.authzAction !== undefined || !['force', 'stop', 'rebuild', 'cancel'].includes(target.action)) return []
    const groups = (user.groups ?? []).map(lower)
    if (target.project === undefined) return groups.some((g) => !g.includes('/')) ? ['admin'] : []
    const owner = target.project ? target.project.owner ?? target.project.name.split('/')[0] : undefined
    return owner && groups.includes(lower(owner)) ? ['admin'] : []
  }
}

const full = (api: PluginApi, p: string) => (isAbsolute(p) ? p : join(api.basedir, p))

/**
 * Fully private mode behind oauth2-proxy (buildbot-nix's `accessMode.fullyPrivate`): the login
 * provider `httpbasicauth` (name it in `www.auth: { provider: 'httpbasicauth' }`) makes every
 * path except `/change_hook/*` need the proxy's identity, logs out through `/oauth2/sign_out`,
 * and the plugin writes oauth2-proxy's configuration file at start.
 */
export const oauth2Proxy = definePlugin({
  name: 'auth-oauth2-proxy',
  options: oauth2ProxyOptionsSchema,
  setup(api, o) {
    const pwFile = full(api, o.httpBasicAuthPasswordFile)
    if (!existsSync(pwFile)) api.error('httpBasicAuthPasswordFile', `the file ${pwFile} does not exist; put the password oauth2-proxy sends there`)
    if (o.backend === 'gitea' && !o.giteaUrl) api.error('giteaUrl', "backend 'gitea' needs giteaUrl, the instance's URL")
    let password: string | undefined
    const secret = () => password ??= readFileSync(pwFile, 'utf8').replace(/\r?\n$/, '')
    const base = api.buildbotURL
    // A token's user must still be let in (users, admins, teams as they are now).
    const tokens = o.apiTokens === false ? undefined : addApiTokens(api, { accept: (user) => allowedIn(user, o) })
    api.addLoginProvider({
      name: 'httpbasicauth', label: 'Sign in',
      requireIdentity: true,
      fromRequest: proxyIdentity(o, () => { const s = secret(); if (!s) throw new Error(`${pwFile} is empty`); return s }),
      ...(tokens ? { apiTokens: true, fromAuthorization: (h: string) => tokens.fromAuthorization(h) } : {}),
      login: { kind: 'redirect', url: () => `${base}oauth2/start?rd=${encodeURIComponent(new URL(base).pathname)}` },
      async callback() { throw new Error('sign in through the proxy (/oauth2/start)') },
      logout: () => `${base}oauth2/sign_out`,
    })
    api.addRoleMatcher(proxyRoles(o.admins ?? []))
    api.onStart(async (rt) => {
      const file = full(api, o.configFile ?? 'oauth2-proxy.cfg')
      const upstream = o.upstream ?? 'http://127.0.0.1:8010/'
      await writeFile(file, oauth2ProxyConfig(o, { buildbotURL: rt.buildbotURL, upstream, basicAuthPassword: secret() }), { mode: 0o600 })
      await chmod(file, 0o600)
      rt.log.info({ file }, 'wrote the oauth2-proxy configuration')
    })
  },
})
