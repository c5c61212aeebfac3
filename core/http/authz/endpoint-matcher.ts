import type { AuthzRule } from '../master-surface.ts'
import { fnmatch } from './fnmatch.ts'

/** The project a build or builder belongs to, for role matchers ("members of the owning organisation"). */
export interface ProjectRef {
  name: string
  /** The forge account owning it (a GitHub organisation or user), when known. */
  owner: string | null
  /** The forge it comes from (`github`, `gitea`, ...), when known. */
  forge: string | null
}

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
  /**
   * The project of the builder concerned; null when the request concerns no project (a worker, a
   * read, a builder without project). Undefined only for the UI's `user_can` hints, which ask
   * about no one build: answer the roles the user has on any project (the server asks again with
   * the real project before acting).
   */
  project?: ProjectRef | null
}

const builderOk = (rule: AuthzRule, t: AuthzTarget) =>
  !rule.builder || t.builderNames === undefined || t.builderNames.some((n) => fnmatch(n, rule.builder!))

/**
 * Buildbot's endpoint matchers by name. Unlike Buildbot, HEAD is a read (not control), `view`
 * matches reads instead of nothing, and `cancel`/`reload`/`worker` are matchers of their own.
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
    // Worker control (pause, unpause, graceful stop, kill): one matcher of this master's own.
    case 'worker': return t.endpoint === 'worker' && !isRead
    default: return !isRead && (t.authzAction ?? t.action) === rule.action
  }
}
