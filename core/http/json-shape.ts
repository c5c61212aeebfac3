/** How deep a request's JSON may nest: the API's own shapes need a handful of levels. */
export const MAX_JSON_DEPTH = 32

/**
 * Why a decoded JSON value cannot be taken as a request, or undefined when it can: nested deeper
 * than `maxDepth` (later recursion, e.g. String() of a nested array, would overflow the stack) or
 * a string or key holding a NUL character (PostgreSQL text cannot store it). Iterative, so any
 * depth is safe to check.
 */
export function jsonShapeError(value: unknown, maxDepth = MAX_JSON_DEPTH): string | undefined {
  const stack: [unknown, number][] = [[value, 0]]
  while (stack.length) {
    const [v, depth] = stack.pop()!
    if (typeof v === 'string') {
      if (v.includes('\0')) return 'strings must not contain NUL characters'
      continue
    }
    if (typeof v !== 'object' || v === null) continue
    if (depth >= maxDepth) return `nested deeper than ${maxDepth} levels`
    if (Array.isArray(v)) {
      for (const x of v) stack.push([x, depth + 1])
    } else {
      for (const [k, x] of Object.entries(v)) {
        if (k.includes('\0')) return 'keys must not contain NUL characters'
        stack.push([x, depth + 1])
      }
    }
  }
  return undefined
}
