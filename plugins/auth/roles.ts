import { TOKENS_AUTHZ, type ProjectRef, type RoleMatcherFn, type UserInfo } from '../../core/index.ts'

/** The role the default authz rules ask of control requests. */
export const CONTROL_ROLE = 'admin'
/** What members of a project's organisation may do on its builds. */
export const MEMBER_ACTIONS: ReadonlySet<string> = new Set(['force', 'stop', 'rebuild', 'cancel'])

/** The forge account owning a project: its `owner`, else the `owner/` part of an `owner/repo` name. */
export const projectOwner = (p: ProjectRef): string | undefined => p.owner ?? (p.name.includes('/') ? p.name.split('/')[0] : undefined)

const lower = (s: string) => s.toLowerCase()

/** Whether the user's groups (organisations from the login) include the project's owner on the login's forge. */
export function isMember(user: UserInfo, project: ProjectRef, forge: string | null): boolean {
  if (forge && project.forge && project.forge !== forge) return false
  const owner = projectOwner(project)
  return !!owner && (user.groups ?? []).some((g) => lower(g) === lower(owner))
}

export const isAdmin = (user: UserInfo, admins: readonly string[]) =>
  !user.anonymous && typeof user.username === 'string' && admins.some((a) => lower(a) === lower(user.username as string))

/**
 * buildbot-nix's roles: `admins` (by user name) may do everything; members of the organisation
 * owning a project (a group from the login equal to the project's owner, on the same forge) may
 * force, rebuild, stop and cancel that project's builds; signed-in users manage their own API
 * tokens; everything else is left to the rules (read-only for others). `forge` is the forge the
 * login's groups come from (`github`, `gitea`), or null when they may match any (OIDC).
 */
export function buildbotNixRoles(opts: { admins: readonly string[]; forge: string | null }): RoleMatcherFn {
  return ({ user, target }) => {
    if (isAdmin(user, opts.admins)) return [CONTROL_ROLE]
    if (target.authzAction === TOKENS_AUTHZ) return user.username ? [CONTROL_ROLE] : []
    if (target.authzAction !== undefined || !MEMBER_ACTIONS.has(target.action)) return []
    // The UI's hints ask about no one project: a member of some organisation may act somewhere.
    if (target.project === undefined) return (user.groups ?? []).some((g) => !g.includes('/')) ? [CONTROL_ROLE] : []
    return target.project && isMember(user, target.project, opts.forge) ? [CONTROL_ROLE] : []
  }
}

/**
 * Who sees a private repository's project, builds and logs: admins, members of the organisation
 * owning it (on the login's forge), and the user owning it. Anonymous users never do.
 */
export function maySee(user: UserInfo, project: ProjectRef, opts: { admins: readonly string[]; forge: string | null }): boolean {
  if (user.anonymous || typeof user.username !== 'string') return false
  if (isAdmin(user, opts.admins) || isMember(user, project, opts.forge)) return true
  const owner = projectOwner(project)
  return !!owner && (!opts.forge || !project.forge || project.forge === opts.forge) && lower(owner) === lower(user.username)
}
