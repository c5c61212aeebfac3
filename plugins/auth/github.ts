import type { LoginProvider, LoginUser } from '../../core/index.ts'
import { createOAuthClient } from './oauth-client.ts'
import type { GithubLoginOptions } from './options.ts'

interface GhUser { login: string; name?: string | null; email?: string | null }
interface GhEmail { email: string; primary: boolean; verified: boolean }
interface GhOrg { login: string }
interface GhTeam { slug: string; organization: { login: string } }

/** GET on GitHub's REST API with the user's token; pages through lists (100 a page, at most 10 pages). */
async function ghGet<T>(api: string, token: string, path: string): Promise<T> {
  const res = await fetch(`${api}${path}`, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': 'buildbot-nix' },
  })
  if (!res.ok) throw new Error(`GitHub answered ${res.status} to GET ${path}`)
  return await res.json() as T
}
async function ghList<T>(api: string, token: string, path: string): Promise<T[]> {
  const out: T[] = []
  for (let page = 1; page <= 10; page++) {
    const got = await ghGet<T[]>(api, token, `${path}?per_page=100&page=${page}`)
    if (!Array.isArray(got)) throw new Error(`GitHub answered GET ${path} with something other than a list`)
    out.push(...got)
    if (got.length < 100) break
  }
  return out
}

/** The signed-in GitHub user: login, name, primary email, organisations and (optionally) `org/team` groups. */
export async function githubUser(api: string, token: string, teams: boolean): Promise<LoginUser> {
  const [user, orgs, teamList] = await Promise.all([
    ghGet<GhUser>(api, token, '/user'),
    ghList<GhOrg>(api, token, '/user/orgs'),
    teams ? ghList<GhTeam>(api, token, '/user/teams') : Promise.resolve([]),
  ])
  if (!user || typeof user.login !== 'string') throw new Error('GitHub answered GET /user without a login')
  let email = user.email ?? undefined
  if (!email) {
    const emails = await ghList<GhEmail>(api, token, '/user/emails').catch(() => [])
    email = emails.find((e) => e.primary && e.verified)?.email
  }
  const groups = [...orgs.map((o) => o.login), ...teamList.map((t) => `${t.organization.login}/${t.slug}`)]
  return { username: user.login, email, full_name: user.name ?? undefined, groups: [...new Set(groups)] }
}

/** Sign in with GitHub: OAuth2 with PKCE; organisations and teams become groups. */
export function githubProvider(o: GithubLoginOptions, secret: () => Promise<string>, extra: Partial<LoginProvider> = {}): LoginProvider {
  const web = (o.url ?? 'https://github.com').replace(/\/+$/, '')
  const api = (o.apiUrl ?? (web === 'https://github.com' ? 'https://api.github.com' : `${web}/api/v3`)).replace(/\/+$/, '')
  const client = createOAuthClient({
    name: 'github', clientId: o.oauthId, secret, scope: ['read:user', 'user:email', 'read:org'],
    endpoints: { authorizeUrl: `${web}/login/oauth/authorize`, tokenUrl: `${web}/login/oauth/access_token` },
  })
  return {
    name: 'github', label: 'Sign in with GitHub',
    login: { kind: 'redirect', url: (start) => client.authorizeURL(start) },
    async callback(cb) { return githubUser(api, await client.exchange(cb), o.teams ?? true) },
    ...extra,
  }
}
