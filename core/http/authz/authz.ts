import type { AuthzRule, RoleMatcher, UserInfo, WwwConfig } from '../master-surface.ts'
import type { AuthzTarget } from './endpoint-matcher.ts'
import { ruleMatches } from './endpoint-matcher.ts'
import { ownerRoles, rolesFrom } from './role-matcher.ts'
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
  assertAllowed(target: AuthzTarget, user: UserInfo): void
  allowed(target: AuthzTarget, user: UserInfo): boolean
}

export interface Policy { rules: AuthzRule[]; roleMatchers: RoleMatcher[]; loggedInRole?: string; private: boolean }

export const isLoopbackHost = (host: string): boolean => ['127.0.0.1', '::1', 'localhost', '[::1]'].includes(host) || /^127\./.test(host)

/**
 * The policy from `www`. The default is never Buildbot's allow-all: only a loopback-only master
 * without auth lets its (local, anonymous) user control builds; with user/password auth, logged-in
 * users may; anything else is read-only until rules are configured.
 */
export function policyFromWww(www: Pick<WwwConfig, 'host' | 'auth' | 'authz' | 'access'>): Policy {
  const priv = www.access === 'private'
  if (www.authz !== 'default') return { rules: www.authz.rules, roleMatchers: www.authz.roleMatchers, private: priv }
  if (isLoopbackHost(www.host) && www.auth.kind === 'none') return { rules: [], roleMatchers: [], private: false }
  if (www.auth.kind === 'userpass') return { rules: [{ action: 'control', role: USER_ROLE }], roleMatchers: [], loggedInRole: USER_ROLE, private: priv }
  return { rules: [{ action: 'control', role: ADMIN_ROLE }], roleMatchers: [], private: priv }
}

/**
 * Buildbot's algorithm (`Authz.assertUserAllowed`): the first rule that matches decides when the
 * user has its role (fnmatch on role names); a rule with `defaultDeny` (the default) denies
 * otherwise; no matching rule allows. Private access first requires a logged-in user.
 */
export function createAuthz(policy: Policy): Authz {
  function assertAllowed(target: AuthzTarget, user: UserInfo): void {
    if (policy.private && (user.anonymous || (!user.username && !user.email))) throw new ForbiddenError(USER_ROLE)
    let roles: string[] | undefined
    for (const rule of policy.rules) {
      if (!ruleMatches(rule, target)) continue
      roles ??= [
        ...policy.roleMatchers.flatMap((m) => [...rolesFrom(m, user), ...ownerRoles(m, user, target.owner)]),
        ...(policy.loggedInRole && !user.anonymous ? [policy.loggedInRole] : []),
      ]
      if (roles.some((r) => fnmatch(r, rule.role))) return
      if (rule.defaultDeny ?? true) throw new ForbiddenError(rule.role)
    }
  }
  return {
    assertAllowed,
    allowed(target, user) {
      try { assertAllowed(target, user); return true } catch (err) { if (err instanceof ForbiddenError) return false; throw err }
    },
  }
}

/** What the UI may offer the user (`user_can` in `/config`). */
export function userCan(authz: Authz, user: UserInfo): Record<string, boolean> {
  const t = (endpoint: string, action: string): AuthzTarget => ({ endpoint, action })
  return {
    force: authz.allowed(t('forcescheduler', 'force'), user),
    stop: authz.allowed(t('build', 'stop'), user),
    rebuild: authz.allowed(t('build', 'rebuild'), user),
    cancel: authz.allowed(t('buildrequest', 'cancel'), user),
    reload: authz.allowed({ endpoint: 'projects', action: 'reload', authzAction: 'reload' }, user),
  }
}
