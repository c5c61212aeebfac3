/**
 * The `/ws` path matching a REST path, as Buildbot's UI computes it (DataUtils.socketPath):
 * a collection (odd number of segments) listens to `<path>/*\/*`, an entity or a `properties`
 * path to `<path>/*`.
 */
export function socketPath(restPath: string): string {
  const path = stripQuery(restPath).replace(/^\/+|\/+$/g, '')
  const segments = path.split('/')
  if (segments[segments.length - 1] === 'properties') return `${path}/*`
  return segments.length % 2 === 1 ? `${path}/*/*` : `${path}/*`
}

/** Whether a routing key (`builds/7/update`) matches a `/ws` path with one-segment `*` wildcards. */
export function keyMatches(pattern: string, key: string): boolean {
  const p = pattern.split('/')
  const k = key.split('/')
  if (p.length !== k.length) return false
  return p.every((seg, i) => seg === '*' || seg === k[i])
}

export function stripQuery(path: string): string {
  const q = path.indexOf('?')
  return q === -1 ? path : path.slice(0, q)
}
