import type { RoleMatcherFn } from '../../core/index.ts'

/** The actions members of a project's organisation may take on its builds (as buildbot-nix). */
export const MEMBER_ACTIONS: ReadonlySet<string> = new Set(['force', 'stop', 'rebuild', 'cancel'])

export interface MemberRoleOptions {
  /** Whether `login` is a member of `org`, asked of GitHub as the App (private memberships included). */
  isMember(org: string, login: string): Promise<boolean>
  /** Organisations owning GitHub projects (from discovery): only their projects are asked about. */
  isOrg(owner: string): boolean
  /** How long an answer is kept (default 10 minutes). */
  ttlMs?: number
  now?: () => number
}

/**
 * `admin` on a GitHub project's builds for the members of the organisation owning it, for force,
 * rebuild, stop and cancel: the membership is asked of GitHub with the App's installation token
 * (so private memberships count too, which the login's organisation list may not show) and kept
 * for a while, so the matcher stays cheap. The user name must be the GitHub login.
 */
export function githubMemberRoles(o: MemberRoleOptions): RoleMatcherFn {
  const ttl = o.ttlMs ?? 600_000
  const now = o.now ?? Date.now
  const cache = new Map<string, { at: number; member: Promise<boolean> }>()
  const member = (org: string, login: string): Promise<boolean> => {
    const key = `${org.toLowerCase()}\u0000${login.toLowerCase()}`
    const hit = cache.get(key)
    if (hit && now() - hit.at < ttl) return hit.member
    const p = o.isMember(org, login).catch(() => { cache.delete(key); return false })
    cache.set(key, { at: now(), member: p })
    if (cache.size > 5000) cache.delete(cache.keys().next().value!)
    return p
  }
  return async ({ user, target }) => {
    if (user.anonymous || typeof user.username !== 'string' || !user.username) return []
    if (target.authzAction !== undefined || !MEMBER_ACTIONS.has(target.action)) return []
    const p = target.project
    if (!p || p.forge !== 'github' || !p.owner || !o.isOrg(p.owner)) return []
    return (await member(p.owner, user.username)) ? ['admin'] : []
  }
}
