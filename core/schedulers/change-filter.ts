import type { ChangeEntity } from '../data/changes.ts'

type Matcher = string | string[] | RegExp | ((value: string | null) => boolean)

/** Buildbot's ChangeFilter: every given criterion must match. */
export interface ChangeFilter {
  branch?: Matcher | null
  repository?: Matcher
  project?: Matcher
  category?: Matcher | null
  codebase?: Matcher
  /** Glob patterns on the branch (`release/*`). */
  branchGlob?: string | string[]
  fn?: (change: ChangeEntity) => boolean
  /** What `fn` depends on (e.g. `{ url, branches }`): a reconfigure restarts the scheduler only when it changes. */
  fnKey?: unknown
}

export function globToRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$')
}

function test(m: Matcher | null | undefined, v: string | null): boolean {
  if (m === undefined) return true
  if (m === null) return v === null
  if (typeof m === 'function') return m(v)
  if (m instanceof RegExp) return v != null && m.test(v)
  if (Array.isArray(m)) return v != null && m.includes(v)
  return m === v
}

export function matchesFilter(f: ChangeFilter | undefined, c: ChangeEntity): boolean {
  if (!f) return true
  if (!test(f.branch, c.branch) || !test(f.repository, c.repository) || !test(f.project, c.project)) return false
  if (!test(f.category, c.category) || !test(f.codebase, c.codebase)) return false
  if (f.branchGlob != null) {
    const globs = Array.isArray(f.branchGlob) ? f.branchGlob : [f.branchGlob]
    if (c.branch == null || !globs.some((g) => globToRegExp(g).test(c.branch!))) return false
  }
  return f.fn ? f.fn(c) : true
}
