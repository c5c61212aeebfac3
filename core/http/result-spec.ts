import { isIdentifier } from './path-match.ts'
import { INT32_MAX, isInt32, isSafeInt } from '../util/int-range.ts'

/**
 * The query part of a REST read, as Buildbot's `resultspec_from_jsonapi` parses it:
 * `field`, `order`, `limit`, `offset`, `property`, and `<field>` / `<field>__<op>` filters.
 */
export type FieldType = 'int' | 'str' | 'bool' | 'epoch' | 'ident' | 'list' | 'object'
export interface ResourceType { plural: string; fields: Record<string, FieldType> }
export type Op = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'contains' | 'in' | 'notin'
export interface Filter { field: string; op: Op; values: unknown[] }
export interface Order { field: string; desc: boolean }
export interface ResultSpec {
  fields?: string[]
  filters: Filter[]
  order: Order[]
  limit?: number
  offset?: number
  /** Property names to include (`*` = all); only builds and buildrequests use it. */
  properties?: string[]
}

/** A client error in the query string; answered with 400 `{"error": message}`. */
export class QueryError extends Error {
  constructor(message: string) { super(message); this.name = 'QueryError' }
}

const OPS = new Set<Op>(['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'contains', 'in', 'notin'])
const SINGLE_ONLY = new Set<Op>(['lt', 'le', 'gt', 'ge'])
const TRUE = new Set(['on', 'true', 'yes', '1'])
const FALSE = new Set(['off', 'false', 'no', '0'])

export function parseValue(type: FieldType, raw: string, field: string): unknown {
  switch (type) {
    case 'int': case 'epoch': {
      // `int` fields are 32-bit columns, `epoch` ones 64-bit: out of range is a client error on both databases.
      const n = /^\s*[-+]?\d+\s*$/.test(raw) ? Number(raw) : NaN
      if (!(type === 'int' ? isInt32(n) : isSafeInt(n))) throw new QueryError(`invalid filter value for ${field}`)
      return n
    }
    case 'bool': {
      const v = raw.toLowerCase()
      if (TRUE.has(v)) return true
      if (FALSE.has(v)) return false
      throw new QueryError(`invalid filter value for ${field}`)
    }
    case 'ident':
      if (!isIdentifier(raw)) throw new QueryError(`invalid filter value for ${field}`)
      return raw
    default:
      if (raw.includes('\0')) throw new QueryError(`invalid filter value for ${field}`)
      return raw
  }
}

/**
 * Parses `query` (a list of key/value pairs, repeated keys kept; values never comma-split).
 * `type` undefined = fields unknown in advance (plugin endpoints): values are parsed as strings.
 */
export function parseResultSpec(query: [string, string][], type: ResourceType | undefined, opts: { collection: boolean }): ResultSpec {
  const grouped = new Map<string, string[]>()
  for (const [k, v] of query) {
    const list = grouped.get(k)
    if (list) list.push(v); else grouped.set(k, [v])
  }
  const known = (f: string) => !type || f in type.fields
  const spec: ResultSpec = { filters: [], order: [] }
  for (const [key, values] of grouped) {
    if (key === 'field') {
      for (const f of values) if (!known(f)) throw new QueryError(`no such field '${f}'`)
      spec.fields = values
    } else if (key === 'order') {
      for (const o of values) {
        const field = o.startsWith('-') ? o.slice(1) : o
        if (!known(field)) throw new QueryError(`no such field '${field}'`)
        spec.order.push({ field, desc: o.startsWith('-') })
      }
    } else if (key === 'limit' || key === 'offset') {
      const v = values[values.length - 1]!
      if (!/^\s*\d+\s*$/.test(v)) throw new QueryError(`invalid ${key}`)
      // No result has more rows than a 32-bit count: a larger limit or offset means the same as that.
      spec[key] = Math.min(Number(v), INT32_MAX)
    } else if (key === 'property') {
      spec.properties = values
    } else {
      const sep = key.lastIndexOf('__')
      const field = sep > 0 && !(type && key in type.fields) ? key.slice(0, sep) : key
      const op = (field === key ? 'eq' : key.slice(sep + 2)) as Op
      if (!OPS.has(op) || !known(field)) throw new QueryError(`unrecognized query parameter '${key}'`)
      if (!type && !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(field)) throw new QueryError(`unrecognized query parameter '${key}'`)
      if (SINGLE_ONLY.has(op) && values.length > 1) throw new QueryError(`invalid filter value for ${key}: '${op}' takes one value`)
      const ft = type?.fields[field] ?? 'str'
      spec.filters.push({ field, op, values: values.map((v) => parseValue(ft, v, key)) })
    }
  }
  if (!opts.collection && spec.filters.length) throw new QueryError('this is not a collection')
  if (spec.fields) {
    const sel = new Set(spec.fields)
    if (spec.filters.some((f) => !sel.has(f.field))) throw new QueryError('cannot filter on un-selected fields')
    if (spec.order.some((o) => !sel.has(o.field))) throw new QueryError('cannot order on un-selected fields')
  }
  return spec
}

function cmp(a: unknown, b: unknown): number {
  if (a === b) return 0
  if (a == null) return -1
  if (b == null) return 1
  if (typeof a === 'boolean' || typeof b === 'boolean') return Number(a) - Number(b)
  if (typeof a === 'number' && typeof b === 'number') return a - b
  const sa = String(a), sb = String(b)
  return sa < sb ? -1 : sa > sb ? 1 : 0
}

export function filterMatches(f: Filter, value: unknown): boolean {
  const eqAny = () => f.values.some((v) => cmp(v, value) === 0)
  switch (f.op) {
    case 'eq': case 'in': return eqAny()
    case 'ne': case 'notin': return !eqAny()
    case 'lt': return value != null && cmp(value, f.values[0]) < 0
    case 'le': return value != null && cmp(value, f.values[0]) <= 0
    case 'gt': return value != null && cmp(value, f.values[0]) > 0
    case 'ge': return value != null && cmp(value, f.values[0]) >= 0
    case 'contains':
      if (Array.isArray(value)) return f.values.some((v) => value.some((x) => cmp(x, v) === 0))
      return typeof value === 'string' && f.values.some((v) => value.includes(String(v)))
  }
}

export function sortEntities<T extends Record<string, unknown>>(items: T[], order: Order[]): T[] {
  if (!order.length) return items
  return [...items].sort((a, b) => {
    for (const o of order) {
      const c = cmp(a[o.field], b[o.field])
      if (c) return o.desc ? -c : c
    }
    return 0
  })
}

/** Filters, sorts and paginates in memory; `total` counts after filters, before pagination. */
export function applyInMemory<T extends Record<string, unknown>>(items: T[], spec: Pick<ResultSpec, 'filters' | 'order' | 'limit' | 'offset'>): { items: T[]; total: number } {
  let out = spec.filters.length ? items.filter((e) => spec.filters.every((f) => filterMatches(f, e[f.field]))) : items
  out = sortEntities(out, spec.order)
  const total = out.length
  const start = spec.offset ?? 0
  out = out.slice(start, spec.limit != null ? start + spec.limit : undefined)
  return { items: out, total }
}

/** Keeps only the selected fields (after filtering, which may use any selected field). */
export function selectFields<T extends Record<string, unknown>>(e: T, fields: string[] | undefined): Record<string, unknown> {
  if (!fields) return e
  const out: Record<string, unknown> = {}
  for (const f of fields) if (f in e) out[f] = e[f]
  return out
}

/** Keeps the properties named by `property=` (`*` = all) in Buildbot's `{name: [value, source]}` shape. */
export function pickProperties(all: Record<string, [unknown, string]>, names: string[]): Record<string, [unknown, string]> {
  if (names.includes('*')) return all
  const out: Record<string, [unknown, string]> = {}
  for (const n of names) if (n in all) out[n] = all[n]!
  return out
}
