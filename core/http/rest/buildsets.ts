import type { Selectable } from 'kysely'
import { toBuildset } from '../../data/buildsets.ts'
import { toSourceStamp, type SourceStampEntity } from '../../data/sourcestamps.ts'
import type { BuildsetsTable } from '../../db/schema.ts'
import type { EndpointDef, ReadCtx } from './endpoint.ts'
import type { ResourceType } from '../result-spec.ts'
import { runSqlSpec, type AnySelect, type SqlFields } from '../sql-spec.ts'

export const buildsetType: ResourceType = {
  plural: 'buildsets',
  fields: {
    bsid: 'int', external_idstring: 'str', reason: 'str', rebuilt_buildid: 'int', submitted_at: 'epoch', complete: 'bool',
    complete_at: 'epoch', results: 'int', sourcestamps: 'list', parent_buildid: 'int', parent_relationship: 'str',
    trusted: 'bool',
  },
}
const sqlFields: SqlFields = {
  bsid: 'bsid', external_idstring: 'external_idstring', reason: 'reason', rebuilt_buildid: 'rebuilt_buildid',
  submitted_at: 'submitted_at', complete: { col: 'complete', bool: true }, complete_at: 'complete_at', results: 'results',
  parent_buildid: 'parent_buildid', parent_relationship: 'parent_relationship', trusted: { col: 'trusted', bool: true },
}

/** Sourcestamps of many buildsets in two queries. */
export async function stampsOfBuildsets(ctx: ReadCtx, bsids: number[]): Promise<Map<number, SourceStampEntity[]>> {
  const out = new Map<number, SourceStampEntity[]>()
  if (!bsids.length) return out
  const rows = await ctx.k.selectFrom('buildset_sourcestamps as l').innerJoin('sourcestamps as s', 's.ssid', 'l.sourcestampid')
    .selectAll('s').select('l.buildsetid').where('l.buildsetid', 'in', bsids).orderBy('l.id').execute()
  for (const r of rows) {
    const list = out.get(r.buildsetid) ?? []
    list.push(toSourceStamp(r))
    out.set(r.buildsetid, list)
  }
  return out
}

async function entities(ctx: ReadCtx, rows: Selectable<BuildsetsTable>[]) {
  const stamps = await stampsOfBuildsets(ctx, rows.map((r) => r.bsid))
  return rows.map((r) => toBuildset(r, stamps.get(r.bsid) ?? []) as unknown as Record<string, unknown>)
}

export const buildsetEndpoints: EndpointDef[] = [
  {
    kind: 'collection', type: buildsetType, patterns: ['buildsets'],
    async get(ctx) {
      const p = await runSqlSpec<Selectable<BuildsetsTable>>(ctx.k.selectFrom('buildsets').selectAll() as AnySelect, ctx.spec, sqlFields, { dialect: ctx.dialect, pk: 'bsid' })
      return { items: await entities(ctx, p.rows), total: p.total, rest: p.rest }
    },
  },
  {
    kind: 'single', type: buildsetType, patterns: ['buildsets/n:bsid'],
    async get(ctx) {
      const row = await ctx.k.selectFrom('buildsets').selectAll().where('bsid', '=', Number(ctx.args.bsid)).executeTakeFirst()
      return row ? (await entities(ctx, [row]))[0] : undefined
    },
  },
]
