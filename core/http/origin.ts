import { fnmatch } from './authz/fnmatch.ts'

/**
 * Buildbot's CORS rule (an `Origin` must fnmatch one of `www.allowedOrigins`, by default the
 * origin of `buildbotURL`), plus same-origin requests: a browser on the master's own host name is
 * never cross-origin, even when `buildbotURL` names the host differently. That rule is safe
 * because `Host` is checked first (`host-check.ts`): a rebound attacker's name never gets here.
 */
export function originAllowed(origin: string, requestHost: string | undefined, allowed: readonly string[]): boolean {
  if (allowed.some((o) => fnmatch(origin, o))) return true
  try { return !!requestHost && new URL(origin).host === requestHost } catch { return false }
}
