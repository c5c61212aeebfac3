import type { Selectable } from 'kysely'
import { toSourceStamp } from '../../data/sourcestamps.ts'
import type { SourcestampsTable } from '../../db/schema.ts'
import type { EndpointDef } from './endpoint.ts'
import type { ResourceType } from '../result-spec.ts'
import { runSqlSpec, type AnySelect, type SqlFields } from '../sql-spec.ts'

export const sourceStampType: ResourceType = {
  plural: 'sourcestamps',
  fields: { ssid: 'int', revision: 'str', branch: 'str', repository: 'str', project: 'str', codebase: 'str', created_at: 'epoch', patch: 'object' },
}
const sqlFields: SqlFields = {
  ssid: 's.ssid', revision: 's.revision', branch: 's.branch', repository: 's.repository', project: 's.project',
  codebase: 's.codebase', created_at: 's.created_at',
}
const toEntity = (r: Selectable<SourcestampsTable>) => toSourceStamp(r) as unknown as Record<string, unknown>

export const sourceStampEndpoints: EndpointDef[] = [
  {
    kind: 'collection', type: sourceStampType, patterns: ['sourcestamps', 'buildsets/:buildsetid/sourcestamps'],
    async get(ctx) {
      let q = ctx.k.selectFrom('sourcestamps as s').selectAll('s') as AnySelect
      if (ctx.args.buildsetid != null) {
        const bsid = Number(ctx.args.buildsetid)
        q = q.innerJoin('buildset_sourcestamps as l', 'l.sourcestampid', 's.ssid').where('l.buildsetid', '=', Number.isInteger(bsid) ? bsid : -1)
      }
      const p = await runSqlSpec<Selectable<SourcestampsTable>>(q, ctx.spec, sqlFields, { dialect: ctx.dialect, pk: 's.ssid' })
      return { items: p.rows.map(toEntity), total: p.total, rest: p.rest }
    },
  },
  {
    kind: 'single', type: sourceStampType, patterns: ['sourcestamps/n:ssid'],
    async get(ctx) {
      const row = await ctx.k.selectFrom('sourcestamps').selectAll().where('ssid', '=', Number(ctx.args.ssid)).executeTakeFirst()
      return row ? toEntity(row) : undefined
    },
  },
]
