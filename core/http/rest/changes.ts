import { sql, type Selectable } from 'kysely'
import { toChange } from '../../data/changes.ts'
import { toSourceStamp } from '../../data/sourcestamps.ts'
import type { ChangesTable } from '../../db/schema.ts'
import type { EndpointDef, ReadCtx } from './endpoint.ts'
import { resolveBuildId } from './resolve.ts'
import type { ResourceType } from '../result-spec.ts'
import { runSqlSpec, type AnySelect, type SqlFields } from '../sql-spec.ts'

export const changeType: ResourceType = {
  plural: 'changes',
  fields: {
    changeid: 'int', parent_changeids: 'list', author: 'str', committer: 'str', files: 'list', comments: 'str', revision: 'str',
    when_timestamp: 'epoch', branch: 'str', category: 'str', revlink: 'str', properties: 'object', repository: 'str',
    project: 'str', codebase: 'str', sourcestamp: 'object', trusted: 'bool',
  },
}
const sqlFields: SqlFields = {
  ...Object.fromEntries(['changeid', 'author', 'committer', 'comments', 'revision', 'when_timestamp', 'branch',
    'category', 'revlink', 'repository', 'project', 'codebase'].map((f) => [f, `changes.${f}`])),
  trusted: { col: 'changes.trusted', bool: true },
}

async function entities(ctx: ReadCtx, rows: Selectable<ChangesTable>[]) {
  const ssids = [...new Set(rows.map((r) => r.sourcestampid))]
  const stamps = new Map(ssids.length ? (await ctx.k.selectFrom('sourcestamps').selectAll().where('ssid', 'in', ssids).execute()).map((s) => [s.ssid, toSourceStamp(s)]) : [])
  return rows.map((r) => toChange(r, stamps.get(r.sourcestampid)!) as unknown as Record<string, unknown>)
}

export const changeEndpoints: EndpointDef[] = [
  {
    kind: 'collection', type: changeType,
    patterns: ['changes', 'builders/n:builderid/builds/n:build_number/changes', 'builds/n:buildid/changes', 'sourcestamps/n:ssid/changes'],
    async get(ctx) {
      let q = ctx.k.selectFrom('changes').selectAll('changes') as AnySelect
      if (ctx.args.ssid != null) q = q.where('changes.sourcestampid', '=', ctx.args.ssid)
      if (ctx.args.build_number != null || ctx.args.buildid != null) {
        const buildid = (await resolveBuildId(ctx.k, ctx.args)) ?? -1
        q = q.where('changes.sourcestampid', 'in', sql`(select bss.sourcestampid from builds b
          join buildrequests br on br.buildrequestid = b.buildrequestid
          join buildset_sourcestamps bss on bss.buildsetid = br.buildsetid where b.buildid = ${buildid})`)
      }
      // Newest first unless the client orders (Buildbot's /changes is reversed).
      const spec = ctx.spec.order.length ? ctx.spec : { ...ctx.spec, order: [{ field: 'changeid', desc: true }] }
      const p = await runSqlSpec<Selectable<ChangesTable>>(q, spec, sqlFields, { dialect: ctx.dialect, pk: 'changes.changeid' })
      return { items: await entities(ctx, p.rows), total: p.total, rest: p.rest }
    },
  },
  {
    kind: 'single', type: changeType, patterns: ['changes/n:changeid'],
    async get(ctx) {
      const row = await ctx.k.selectFrom('changes').selectAll().where('changeid', '=', Number(ctx.args.changeid)).executeTakeFirst()
      return row ? (await entities(ctx, [row]))[0] : undefined
    },
  },
]
