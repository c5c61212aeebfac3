import type { Selectable } from 'kysely'
import { toLog } from '../../data/logs.ts'
import type { LogsTable } from '../../db/schema.ts'
import type { EndpointDef } from './endpoint.ts'
import { STEP_PREFIXES, resolveLogId, resolveStepId } from './resolve.ts'
import type { ResourceType } from '../result-spec.ts'
import { runSqlSpec, type AnySelect, type SqlFields } from '../sql-spec.ts'

export const logType: ResourceType = {
  plural: 'logs',
  fields: { logid: 'int', name: 'str', slug: 'ident', stepid: 'int', complete: 'bool', num_lines: 'int', type: 'ident' },
}
const sqlFields: SqlFields = {
  logid: 'logid', name: 'name', slug: 'slug', stepid: 'stepid', complete: { col: 'complete', bool: true }, num_lines: 'num_lines', type: 'type',
}
const toEntity = (r: Selectable<LogsTable>) => toLog(r) as unknown as Record<string, unknown>

export const logEndpoints: EndpointDef[] = [
  {
    kind: 'collection', type: logType, patterns: STEP_PREFIXES.map((s) => `${s}/logs`),
    async get(ctx) {
      const stepid = (await resolveStepId(ctx.k, ctx.args)) ?? -1
      const q = ctx.k.selectFrom('logs').selectAll().where('stepid', '=', stepid) as AnySelect
      const p = await runSqlSpec<Selectable<LogsTable>>(q, ctx.spec, sqlFields, { dialect: ctx.dialect, pk: 'logid' })
      return { items: p.rows.map(toEntity), total: p.total, rest: p.rest }
    },
  },
  {
    kind: 'single', type: logType, patterns: ['logs/n:logid', ...STEP_PREFIXES.map((s) => `${s}/logs/i:log_slug`)],
    async get(ctx) {
      const id = await resolveLogId(ctx.k, ctx.args)
      if (id == null) return undefined
      const row = await ctx.k.selectFrom('logs').selectAll().where('logid', '=', id).executeTakeFirst()
      return row ? toEntity(row) : undefined
    },
  },
]
