import type { RoleMatcher, UserInfo } from '../master-surface.ts'
import type { AuthzTarget } from './endpoint-matcher.ts'

/**
 * A role matcher a plugin adds (`api.addRoleMatcher`): the roles `user` has for `target`. It runs
 * for every rule check that reaches it, so keep it cheap (no network calls; put what it needs in
 * the user's groups at login).
 *
 * @example members of the organisation owning the build's project get `admin` on it
 *   api.addRoleMatcher(({ user, target }) =>
 *     target.project === undefined ? (user.groups?.length ? ['admin'] : [])
 *     : target.project?.owner && user.groups?.includes(target.project.owner) ? ['admin'] : [])
 */
export type RoleMatcherFn = ((args: { user: UserInfo; target: AuthzTarget }) => string[] | Promise<string[]>) & {
  /** Asked for anonymous users too (`api.addRoleMatcher(m, { anonymous: true })`); others never give an anonymous user a role. */
  readonly anonymous?: boolean
}

/** Options of `api.addRoleMatcher`. */
export interface RoleMatcherOptions {
  /**
   * Ask this matcher for anonymous users too (e.g. a setting that lets everyone control builds).
   * Off by default: a matcher that forgets to check for anonymous users gives them nothing.
   */
  anonymous?: boolean
}

/** The owner string Buildbot stores: the first non-empty of email, username, full_name. */
export function ownerOf(user: UserInfo): string {
  if (user.anonymous) return 'anonymous'
  return user.email || user.username || user.full_name || 'anonymous'
}

/** Roles one matcher gives a user (`owner` roles depend on the target: see `ownerRoles`). */
export function rolesFrom(m: RoleMatcher, user: UserInfo): string[] {
  if (user.anonymous) return []
  const byValue = (value: string | undefined, test: (want: string) => boolean = (w) => w === value) =>
    value == null ? [] : Object.entries(m.roles ?? {}).filter(([, vals]) => vals.some(test)).map(([role]) => role)
  switch (m.kind) {
    case 'groups': {
      const prefix = m.groupPrefix ?? ''
      return (user.groups ?? []).filter((g) => g.startsWith(prefix)).map((g) => g.slice(prefix.length))
    }
    case 'emails': return byValue(user.email)
    case 'usernames': return byValue(user.username)
    case 'domain': return byValue(user.email, (d) => !!user.email && user.email.toLowerCase().endsWith('@' + d.toLowerCase()))
    case 'owner': return []
  }
}

/** The owner role, when the target's owner is this user. */
export function ownerRoles(m: RoleMatcher, user: UserInfo, owner: string | null | undefined): string[] {
  if (m.kind !== 'owner' || !m.role || user.anonymous || !owner) return []
  return [user.email, user.username, user.full_name].includes(owner) ? [m.role] : []
}
