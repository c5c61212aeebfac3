/** A page of the UI, parsed from the location hash. Paths follow Buildbot's UI links. */
export type Route =
  | { name: 'projects' }
  | { name: 'project'; projectid: number }
  /** `#/projects/3/history?branch=main&offset=50&attr=x&q=unit`: evaluations x attributes, or one attribute's history. */
  | { name: 'history'; projectid: number; branch: string; offset: number; attr: string; q: string }
  | { name: 'builders' }
  | { name: 'builder'; builderid: number }
  /**
   * `#/builds/<id>` or `#/builders/<builderid>/builds/<number>`: `buildPath` is the REST path;
   * `?filter=failed&q=unit` is the build matrix's state filter and search.
   */
  | { name: 'build'; buildPath: string; filter: string; q: string }
  | { name: 'log'; buildPath: string; step: string; slug: string; line: number | null }
  | { name: 'workers' }
  | { name: 'buildrequests' }
  /** `?follow=1`: open the request's build as soon as it has one (after a force or rebuild). */
  | { name: 'buildrequest'; buildrequestid: number; follow: boolean }
  | { name: 'changes' }
  /** `#/login?redirect=/builders/1`: the login form; `redirect` is the page to return to. */
  | { name: 'login'; redirect: string }
  /** `#/tokens`: the signed-in user's API tokens. */
  | { name: 'tokens' }
  | { name: 'notFound'; path: string }

const int = (s: string | undefined): number | null => (s && /^\d+$/.test(s) ? Number(s) : null)

/** Parses `#/builders/3/builds/7?x=1` (leading `#` and `/` optional). */
export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '').replace(/^\/+/, '')
  const q = raw.indexOf('?')
  const path = (q === -1 ? raw : raw.slice(0, q)).replace(/\/+$/, '')
  const query = new URLSearchParams(q === -1 ? '' : raw.slice(q + 1))
  const s = path === '' ? [] : path.split('/').map(decodeURIComponent)
  const n = s.length
  if (n === 0 || (n === 1 && s[0] === 'projects')) return { name: 'projects' }
  if (n === 2 && s[0] === 'projects' && int(s[1]) !== null) return { name: 'project', projectid: int(s[1])! }
  if (n === 3 && s[0] === 'projects' && int(s[1]) !== null && s[2] === 'history') {
    return { name: 'history', projectid: int(s[1])!, branch: query.get('branch') ?? '', offset: int(query.get('offset') ?? undefined) ?? 0, attr: query.get('attr') ?? '', q: query.get('q') ?? '' }
  }
  if (n === 1 && s[0] === 'builders') return { name: 'builders' }
  if (n === 2 && s[0] === 'builders' && int(s[1]) !== null) return { name: 'builder', builderid: int(s[1])! }
  if (n === 1 && s[0] === 'workers') return { name: 'workers' }
  if (n === 1 && s[0] === 'tokens') return { name: 'tokens' }
  if (n === 1 && s[0] === 'login') return { name: 'login', redirect: query.get('redirect') ?? '/' }
  if (n === 1 && (s[0] === 'buildrequests' || s[0] === 'pendingbuildrequests')) return { name: 'buildrequests' }
  if (n === 2 && s[0] === 'buildrequests' && int(s[1]) !== null) return { name: 'buildrequest', buildrequestid: int(s[1])!, follow: query.get('follow') === '1' }
  if (n === 1 && s[0] === 'changes') return { name: 'changes' }
  let buildLen = 0
  if (s[0] === 'builds' && int(s[1]) !== null) buildLen = 2
  else if (s[0] === 'builders' && int(s[1]) !== null && s[2] === 'builds' && int(s[3]) !== null) buildLen = 4
  if (buildLen) {
    const buildPath = s.slice(0, buildLen).join('/')
    if (n === buildLen) return { name: 'build', buildPath, filter: query.get('filter') ?? '', q: query.get('q') ?? '' }
    if (n === buildLen + 4 && s[buildLen] === 'steps' && s[buildLen + 2] === 'logs') {
      return { name: 'log', buildPath, step: s[buildLen + 1], slug: s[buildLen + 3], line: int(query.get('line') ?? undefined) }
    }
  }
  return { name: 'notFound', path }
}

/** The hash of a route, the inverse of `parseRoute`. */
export function routeHref(route: Route): string {
  switch (route.name) {
    case 'projects': return '#/projects'
    case 'project': return `#/projects/${route.projectid}`
    case 'history': {
      const q = new URLSearchParams()
      if (route.branch) q.set('branch', route.branch)
      if (route.offset) q.set('offset', String(route.offset))
      if (route.attr) q.set('attr', route.attr)
      if (route.q) q.set('q', route.q)
      const qs = q.toString()
      return `#/projects/${route.projectid}/history${qs ? `?${qs}` : ''}`
    }
    case 'builders': return '#/builders'
    case 'builder': return `#/builders/${route.builderid}`
    case 'build': {
      const q = new URLSearchParams()
      if (route.filter) q.set('filter', route.filter)
      if (route.q) q.set('q', route.q)
      const qs = q.toString()
      return `#/${route.buildPath}${qs ? `?${qs}` : ''}`
    }
    case 'log': return `#/${route.buildPath}/steps/${encodeURIComponent(route.step)}/logs/${encodeURIComponent(route.slug)}${route.line !== null ? `?line=${route.line}` : ''}`
    case 'workers': return '#/workers'
    case 'buildrequests': return '#/buildrequests'
    case 'buildrequest': return `#/buildrequests/${route.buildrequestid}${route.follow ? '?follow=1' : ''}`
    case 'changes': return '#/changes'
    case 'login': return `#/login?redirect=${encodeURIComponent(route.redirect)}`
    case 'tokens': return '#/tokens'
    case 'notFound': return `#/${route.path}`
  }
}

export const buildHref = (buildid: number): string => `#/builds/${buildid}`
export const builderHref = (builderid: number): string => `#/builders/${builderid}`

/**
 * Where a force or a rebuild leads (their answer is Buildbot's `[bsid, {builderid: brid}]`): the
 * page of its one request, which opens the build as soon as it starts; null for several requests.
 */
export function followHref(result: unknown): string | null {
  if (!Array.isArray(result) || typeof result[1] !== 'object' || result[1] === null) return null
  const brids = Object.values(result[1] as Record<string, unknown>).filter((v): v is number => typeof v === 'number')
  return brids.length === 1 ? routeHref({ name: 'buildrequest', buildrequestid: brids[0]!, follow: true }) : null
}
