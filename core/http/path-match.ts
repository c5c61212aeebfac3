/**
 * Buildbot's path patterns (`master/buildbot/util/pathmatch.py`): segments split on `/`,
 * `n:x` an integer, `i:x` an identifier, `s:x` or `:x` any string. Matching is by exact
 * segment count; the first pattern that matches completely wins.
 */
import { isInt32 } from '../util/int-range.ts'

export type PathArgs = Record<string, string | number>

const IDENT = /^[a-zA-Z_-][.a-zA-Z0-9_-]*$/
const INT = /^-?\d+$/

interface Seg { kind: 'lit' | 'n' | 'i' | 's'; name: string }
export interface CompiledPattern { source: string; segs: Seg[] }

export function compilePattern(pattern: string): CompiledPattern {
  const parts = pattern.replace(/^\/+|\/+$/g, '')
  const segs: Seg[] = parts === '' ? [] : parts.split('/').map((p) => {
    const m = /^([nis]?):(.+)$/.exec(p)
    if (!m) return { kind: 'lit', name: p }
    return { kind: (m[1] || 's') as Seg['kind'], name: m[2]! }
  })
  return { source: pattern, segs }
}

export const isIdentifier = (s: string): boolean => IDENT.test(s)

export function matchPattern(p: CompiledPattern, segments: readonly string[]): PathArgs | undefined {
  if (p.segs.length !== segments.length) return undefined
  const args: PathArgs = {}
  for (let i = 0; i < segments.length; i++) {
    const seg = p.segs[i]!
    const v = segments[i]!
    switch (seg.kind) {
      case 'lit': if (v !== seg.name) return undefined; break
      // Ids and numbers are 32-bit columns: a larger one names nothing (and must not reach the database).
      case 'n': if (!INT.test(v) || !isInt32(Number(v))) return undefined; args[seg.name] = Number(v); break
      case 'i': if (!IDENT.test(v)) return undefined; args[seg.name] = v; break
      case 's': if (v.includes('\0')) return undefined; args[seg.name] = v; break
    }
  }
  return args
}

/** Splits the part of a URL path after `/api/v2`; a trailing slash is an extra empty segment, as in Buildbot. */
export function splitApiPath(rest: string): string[] {
  if (rest === '' || rest === '/') return []
  const trimmed = rest.startsWith('/') ? rest.slice(1) : rest
  return trimmed.split('/').map((s) => { try { return decodeURIComponent(s) } catch { return s } })
}

/** A table of patterns mapped to values; `find` returns the first match in registration order. */
export class PathTable<T> {
  private readonly entries: { p: CompiledPattern; value: T }[] = []
  add(pattern: string, value: T): this { this.entries.push({ p: compilePattern(pattern), value }); return this }
  find(segments: readonly string[]): { value: T; args: PathArgs; pattern: string } | undefined {
    for (const e of this.entries) {
      const args = matchPattern(e.p, segments)
      if (args) return { value: e.value, args, pattern: e.p.source }
    }
    return undefined
  }
}
