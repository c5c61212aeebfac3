import type { AuthzRule, RoleMatcher, UserInfo, WwwConfig } from '../master-surface.ts'
import type { AuthzTarget } from './endpoint-matcher.ts'
import { ruleMatches } from './endpoint-matcher.ts'
import { ownerRoles, rolesFrom, type RoleMatcherFn } from './role-matcher.ts'
import { fnmatch } from './fnmatch.ts'

/** Denial; answered as 403 `you need to have role 'x'`. */
export class ForbiddenError extends Error {
  constructor(readonly role: string) { super(`you need to have role '${role}'`); this.name = 'ForbiddenError' }
}

/** Role every logged-in user has under the default policy. */
export const USER_ROLE = 'user'
/** Role nobody has under the default policy: control stays closed until rules are configured. */
export const ADMIN_ROLE = 'admin'

export interface Authz {
  /** Throws ForbiddenError when `user` may not do `target`. */
  assertAllowed(target: AuthzTarget, user: UserInfo): Promise<void>
  allowed(target: AuthzTarget, user: UserInfo): Promise<boolean>
}

export interface Policy {
  rules: AuthzRule[]; roleMatchers: RoleMatcher[]; loggedInRole?: string; private: boolean
  /** Matchers plugins added (`api.addRoleMatcher`), asked after the configured ones. */
  pluginMatchers?: RoleMatcherFn[]
  /** Told about a plugin matcher that threw; that matcher then gives no role (fail closed). */
  onMatcherError?: (err: unknown) => void
}

export const isLoopbackHost = (host: string): boolean => ['127.0.0.1', '::1', 'localhost', '[::1]'].includes(host) || /^127\./.test(host)

/**
 * The policy from `www`. The default is never Buildbot's allow-all: only a loopback-only master
 * without auth lets its (local, anonymous) user control builds; with user/password auth, logged-in
 * users may; anything else (a plugin's login) is read-only until rules are configured or a plugin's
 * role matcher grants `admin`.
 */
export function policyFromWww(www: Pick<WwwConfig, 'host' | 'auth' | 'authz' | 'access'>, pluginMatchers: RoleMatcherFn[] = []): Policy {
  const priv = www.access === 'private'
  if (www.authz !== 'default') return { rules: www.authz.rules, roleMatchers: www.authz.roleMatchers, private: priv, pluginMatchers }
  if (isLoopbackHost(www.host) && www.auth.kind === 'none') return { rules: [], roleMatchers: [], private: false }
  if (www.auth.kind === 'userpass') return { rules: [{ action: 'control', role: USER_ROLE }], roleMatchers: [], loggedInRole: USER_ROLE, private: priv, pluginMatchers }
  return { rules: [{ action: 'control', role: ADMIN_ROLE }], roleMatchers: [], private: priv, pluginMatchers }
}

/**
 * Buildbot's algorithm (`Authz.assertUserAllowed`): the first rule that matches decides when the
 * user has its role (fnmatch on role names); a rule with `defaultDeny` (the default) denies
 * otherwise; no matching rule allows. Private access first requires a logged-in user.
 */
export function createAuthz(policy: Policy): Authz {
  async function roles(target: AuthzTarget, user: UserInfo): Promise<string[]> {
    const out = [
      ...policy.roleMatchers.flatMap((m) => [...rolesFrom(m, user), ...ownerRoles(m, user, target.owner)]),
      ...(policy.loggedInRole && !user.anonymous ? [policy.loggedInRole] : []),
    ]
    for (const m of policy.pluginMatchers ?? []) {
      if (user.anonymous && !m.anonymous) continue
      try {
        const got = await m({ user, target })
        if (Array.isArray(got)) out.push(...got.filter((r) => typeof r === 'string'))
      } catch (err) { policy.onMatcherError?.(err) }
    }
    return out
  }
  async function assertAllowed(target: AuthzTarget, user: UserInfo): Promise<void> {
    if (policy.private && (user.anonymous || (!user.username && !user.email))) throw new ForbiddenError(USER_ROLE)
    let have: string[] | undefined
    for (const rule of policy.rules) {
      if (!ruleMatches(rule, target)) continue
      have ??= await roles(target, user)
      if (have.some((r) => fnmatch(r, rule.role))) return
      if (rule.defaultDeny ?? true) throw new ForbiddenError(rule.role)
    }
  }
  return {
    assertAllowed,
    async allowed(target, user) {
      try { await assertAllowed(target, user); return true } catch (err) { if (err instanceof ForbiddenError) return false; throw err }
    },
  }
}

/** What the UI may offer the user (`user_can` in `/config`): allowed on some builder of some project. */
export async function userCan(authz: Authz, user: UserInfo): Promise<Record<string, boolean>> {
  const t = (endpoint: string, action: string): AuthzTarget => ({ endpoint, action })
  const [force, stop, rebuild, cancel, reload, worker] = await Promise.all([
    authz.allowed(t('forcescheduler', 'force'), user),
    authz.allowed(t('build', 'stop'), user),
    authz.allowed(t('build', 'rebuild'), user),
    authz.allowed(t('buildrequest', 'cancel'), user),
    authz.allowed({ endpoint: 'projects', action: 'reload', authzAction: 'reload' }, user),
    // A worker concerns no project: the same rules decide for the hint as for the action.
    authz.allowed({ ...t('worker', 'pause'), project: null }, user),
  ])
  return { force: force!, stop: stop!, rebuild: rebuild!, cancel: cancel!, reload: reload!, worker: worker! }
}
