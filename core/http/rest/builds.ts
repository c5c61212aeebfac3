import { sql } from 'kysely'
import { toBuild } from '../../data/builds.ts'
import type { Selectable } from 'kysely'
import type { BuildsTable } from '../../db/schema.ts'
import type { EndpointDef, ReadCtx } from './endpoint.ts'
import { BUILD_PREFIXES, resolveBuildId, resolveBuilderId } from './resolve.ts'
import type { ResourceType } from '../result-spec.ts'
import { pickProperties } from '../result-spec.ts'
import { notNullBool, runSqlSpec, type AnySelect, type SqlFields } from '../sql-spec.ts'

export const buildType: ResourceType = {
  plural: 'builds',
  fields: {
    buildid: 'int', number: 'int', builderid: 'int', buildrequestid: 'int', workerid: 'int', masterid: 'int',
    started_at: 'epoch', complete: 'bool', complete_at: 'epoch', locks_duration_s: 'int', results: 'int',
    state_string: 'str', properties: 'object',
  },
}
const sqlFields: SqlFields = {
  buildid: 'builds.buildid', number: 'builds.number', builderid: 'builds.builderid', buildrequestid: 'builds.buildrequestid',
  workerid: 'builds.workerid', masterid: 'builds.masterid', started_at: 'builds.started_at', complete_at: 'builds.complete_at',
  results: 'builds.results', state_string: 'builds.state_string', complete: notNullBool('builds.complete_at'),
}

const toEntity = (ctx: ReadCtx) => (r: Selectable<BuildsTable>) =>
  toBuild(r, ctx.spec.properties ? (p) => pickProperties(p, ctx.spec.properties!) : undefined) as unknown as Record<string, unknown>

async function page(ctx: ReadCtx, q: AnySelect) {
  const p = await runSqlSpec<Selectable<BuildsTable>>(q, ctx.spec, sqlFields, { dialect: ctx.dialect, pk: 'builds.buildid' })
  return { items: p.rows.map(toEntity(ctx)), total: p.total, rest: p.rest }
}

export const buildEndpoints: EndpointDef[] = [
  {
    kind: 'collection', type: buildType,
    patterns: ['builds', 'builders/n:builderid/builds', 'builders/s:buildername/builds', 'buildrequests/n:buildrequestid/builds',
      'changes/n:changeid/builds', 'workers/n:workerid/builds'],
    async get(ctx) {
      const { k, args } = ctx
      let q: AnySelect = k.selectFrom('builds').selectAll('builds')
      if (args.builderid != null || args.buildername != null) q = q.where('builds.builderid', '=', (await resolveBuilderId(k, args)) ?? -1)
      if (args.buildrequestid != null) q = q.where('builds.buildrequestid', '=', args.buildrequestid)
      if (args.workerid != null) q = q.where('builds.workerid', '=', args.workerid)
      if (args.changeid != null) {
        q = q.where('builds.buildrequestid', 'in', sql`(select br.buildrequestid from buildrequests br
          join buildset_sourcestamps bss on bss.buildsetid = br.buildsetid
          join changes c on c.sourcestampid = bss.sourcestampid where c.changeid = ${args.changeid})`)
      }
      return page(ctx, q)
    },
  },
  {
    kind: 'collection', type: buildType, patterns: ['builds/n:buildid/triggered_builds'],
    async get(ctx) {
      const q = (ctx.k.selectFrom('builds').selectAll('builds') as AnySelect).where('builds.buildrequestid', 'in', sql`(select br.buildrequestid
        from buildrequests br join buildsets bs on bs.bsid = br.buildsetid where bs.parent_buildid = ${ctx.args.buildid})`)
      return page(ctx, q)
    },
  },
  {
    kind: 'single', type: buildType, patterns: BUILD_PREFIXES,
    async get(ctx) {
      const id = await resolveBuildId(ctx.k, ctx.args)
      if (id == null) return undefined
      const row = await ctx.k.selectFrom('builds').selectAll().where('buildid', '=', id).executeTakeFirst()
      return row ? toEntity(ctx)(row) : undefined
    },
  },
]
