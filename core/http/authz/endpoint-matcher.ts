import type { AuthzRule } from '../master-surface.ts'
import { fnmatch } from './fnmatch.ts'

/** What a request asks to do, resolved enough for the rules to decide. */
export interface AuthzTarget {
  /** `get` for reads (GET and HEAD), else the JSON-RPC method. */
  action: string
  /** The entity kind the path names: build, buildrequest, forcescheduler, scheduler, worker, ... */
  endpoint?: string
  /** Builders concerned; undefined = not known (then builder globs are taken to match). */
  builderNames?: string[]
  /** The `owner` property of the build's or request's buildset, for owner roles. */
  owner?: string | null
  /** Authz name of a plugin action (e.g. `reload`). */
  authzAction?: string
}

const builderOk = (rule: AuthzRule, t: AuthzTarget) =>
  !rule.builder || t.builderNames === undefined || t.builderNames.some((n) => fnmatch(n, rule.builder!))

/**
 * Buildbot's endpoint matchers by name. Unlike Buildbot, HEAD is a read (not control), `view`
 * matches reads instead of nothing, and `cancel`/`reload` are matchers of their own.
 */
export function ruleMatches(rule: AuthzRule, t: AuthzTarget): boolean {
  const isRead = t.action === 'get'
  switch (rule.action) {
    case 'any': return true
    case 'control': return !isRead
    case 'view': return isRead
    case 'force': return t.endpoint === 'forcescheduler' && t.action === 'force' && builderOk(rule, t)
    case 'stop': return t.endpoint === 'build' && t.action === 'stop' && builderOk(rule, t)
    case 'rebuild': return t.endpoint === 'build' && t.action === 'rebuild' && builderOk(rule, t)
    case 'cancel': return t.endpoint === 'buildrequest' && t.action === 'cancel' && builderOk(rule, t)
    case 'enable': return t.endpoint === 'scheduler' && t.action === 'enable'
    default: return !isRead && (t.authzAction ?? t.action) === rule.action
  }
}
