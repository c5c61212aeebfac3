import type { LoginProvider, LoginUser } from '../../core/index.ts'
import { createOAuthClient } from './oauth-client.ts'
import type { GiteaLoginOptions } from './options.ts'

interface GiteaUser { login: string; full_name?: string; email?: string }
interface GiteaOrg { username?: string; name?: string }

async function giteaGet<T>(api: string, token: string, path: string): Promise<T> {
  const res = await fetch(`${api}${path}`, { headers: { authorization: `token ${token}`, accept: 'application/json' } })
  if (!res.ok) throw new Error(`Gitea answered ${res.status} to GET ${path}`)
  return await res.json() as T
}

/** The signed-in Gitea user and their organisations as groups. */
export async function giteaUser(instance: string, token: string): Promise<LoginUser> {
  const api = `${instance}/api/v1`
  const user = await giteaGet<GiteaUser>(api, token, '/user')
  if (!user || typeof user.login !== 'string') throw new Error('Gitea answered GET /user without a login')
  const orgs: GiteaOrg[] = []
  for (let page = 1; page <= 10; page++) {
    const got = await giteaGet<GiteaOrg[]>(api, token, `/user/orgs?limit=50&page=${page}`)
    if (!Array.isArray(got)) throw new Error('Gitea answered GET /user/orgs with something other than a list')
    orgs.push(...got)
    if (got.length < 50) break
  }
  const groups = orgs.map((o) => o.username ?? o.name).filter((n): n is string => typeof n === 'string' && !!n)
  return { username: user.login, email: user.email || undefined, full_name: user.full_name || undefined, groups }
}

/** Sign in with Gitea: OAuth2 with PKCE; organisations become groups. */
export function giteaProvider(o: GiteaLoginOptions, secret: () => Promise<string>, extra: Partial<LoginProvider> = {}): LoginProvider {
  const instance = o.instanceUrl.replace(/\/+$/, '')
  const client = createOAuthClient({
    name: 'gitea', clientId: o.oauthId, secret, scope: ['read:user', 'read:organization'],
    endpoints: { authorizeUrl: `${instance}/login/oauth/authorize`, tokenUrl: `${instance}/login/oauth/access_token` },
  })
  return {
    name: 'gitea', label: 'Sign in with Gitea',
    login: { kind: 'redirect', url: (start) => client.authorizeURL(start) },
    async callback(cb) { return giteaUser(instance, await client.exchange(cb)) },
    ...extra,
  }
}
