import { sql, type RawBuilder, type SelectQueryBuilder } from 'kysely'
import type { Dialect } from '../db/connect.ts'
import type { Filter, Order, ResultSpec } from './result-spec.ts'

/**
 * How a resource field maps to SQL: a column (`bool` when stored as 0/1), or a custom
 * filter expression. A field without a mapping is filtered in memory after the query, which
 * also moves pagination into memory; resources map every field a client normally filters on.
 */
export type SqlField = string | { col?: string; bool?: boolean; filter?: (f: Filter) => RawBuilder<unknown> }
export type SqlFields = Record<string, SqlField>

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySelect = SelectQueryBuilder<any, any, any>

const col = (m: SqlField): string | undefined => (typeof m === 'string' ? m : m.col)

function conv(m: SqlField, v: unknown): unknown {
  if (typeof m !== 'string' && m.bool) return v ? 1 : 0
  return v
}

export function filterSql(m: SqlField, f: Filter, dialect: Dialect): RawBuilder<unknown> {
  if (typeof m !== 'string' && m.filter) return m.filter(f)
  const ref = sql.ref(col(m)!)
  const vals = f.values.map((v) => conv(m, v))
  const list = sql.join(vals.map((v) => sql`${v}`))
  switch (f.op) {
    case 'eq': case 'in': return vals.length === 1 ? sql`${ref} = ${vals[0]}` : sql`${ref} in (${list})`
    case 'ne': case 'notin': return sql`(${ref} is null or ${ref} not in (${list}))`
    case 'lt': return sql`${ref} < ${vals[0]}`
    case 'le': return sql`${ref} <= ${vals[0]}`
    case 'gt': return sql`${ref} > ${vals[0]}`
    case 'ge': return sql`${ref} >= ${vals[0]}`
    case 'contains': {
      const fn = dialect === 'sqlite' ? sql`instr(${ref}, ` : sql`strpos(cast(${ref} as text), `
      return sql`(${sql.join(vals.map((v) => sql`${fn}${String(v)}) > 0`), sql` or `)})`
    }
  }
}

/** A boolean field computed from whether a column is NULL (e.g. builds.complete = complete_at is not null). */
export function notNullBool(column: string): SqlField {
  return {
    filter: (f) => {
      const want = (v: unknown) => sql`${sql.ref(column)} ${sql.raw(v ? 'is not null' : 'is null')}`
      const pos = f.op === 'eq' || f.op === 'in' || f.op === 'contains'
      const vals = [...new Set(f.values.map(Boolean))]
      if (vals.length === 2) return pos ? sql`1 = 1` : sql`1 = 0`
      return want(pos ? vals[0] : !vals[0])
    },
  }
}

export interface SqlPage<R> { rows: R[]; total: number; rest?: Pick<ResultSpec, 'filters' | 'order' | 'limit' | 'offset'> }

/**
 * Pushes filters, order, limit and offset into `base` where the fields map to SQL. Returns the
 * rows and what is left to apply in memory (nothing, for the usual requests). `total` is the
 * count after filters, before pagination, when everything was pushed down.
 */
export async function runSqlSpec<R>(base: AnySelect, spec: ResultSpec, fields: SqlFields, opts: { dialect: Dialect; pk: string }): Promise<SqlPage<R>> {
  const restFilters: Filter[] = []
  let q = base
  for (const f of spec.filters) {
    const m = fields[f.field]
    if (m) q = q.where(filterSql(m, f, opts.dialect) as RawBuilder<boolean>)
    else restFilters.push(f)
  }
  const orderable = spec.order.every((o) => fields[o.field] && col(fields[o.field]!))
  if (restFilters.length || !orderable) {
    const rows = (await q.execute()) as R[]
    return { rows, total: rows.length, rest: { filters: restFilters, order: spec.order, limit: spec.limit, offset: spec.offset } }
  }
  const paged = spec.limit != null || (spec.offset ?? 0) > 0
  const countQ = paged ? q.clearSelect().select(sql<number>`count(*)`.as('n')).executeTakeFirst() : undefined
  const orders: Order[] = [...spec.order]
  if (!orders.some((o) => col(fields[o.field]!) === opts.pk)) orders.push({ field: '', desc: orders.length ? orders[orders.length - 1]!.desc : false })
  for (const o of orders) q = q.orderBy(sql`${sql.ref(o.field ? col(fields[o.field]!)! : opts.pk)} ${sql.raw(o.desc ? 'desc' : 'asc')}`)
  if (spec.limit != null) q = q.limit(spec.limit)
  else if (spec.offset) q = q.limit(dialectMaxLimit)
  if (spec.offset) q = q.offset(spec.offset)
  const [rows, count] = await Promise.all([q.execute() as Promise<R[]>, countQ])
  return { rows, total: count ? Number((count as { n: number }).n) : rows.length }
}

/** sqlite needs a LIMIT before OFFSET; this is its "no limit". */
const dialectMaxLimit = Number.MAX_SAFE_INTEGER
