import { toBuildRequest, type BuildRequestRow } from '../../data/buildrequests.ts'
import { parseJson } from '../../data/context.ts'
import type { EndpointDef, Entity, ReadCtx } from './endpoint.ts'
import type { ResourceType } from '../result-spec.ts'
import { pickProperties } from '../result-spec.ts'
import { notNullBool, runSqlSpec, type AnySelect, type SqlFields } from '../sql-spec.ts'

export const buildRequestType: ResourceType = {
  plural: 'buildrequests',
  fields: {
    buildrequestid: 'int', buildsetid: 'int', builderid: 'int', priority: 'int', claimed: 'bool', claimed_at: 'epoch',
    claimed_by_masterid: 'int', complete: 'bool', results: 'int', submitted_at: 'epoch', complete_at: 'epoch',
    waited_for: 'bool', properties: 'object',
  },
}
const sqlFields: SqlFields = {
  buildrequestid: 'br.buildrequestid', buildsetid: 'br.buildsetid', builderid: 'br.builderid', priority: 'br.priority',
  claimed: notNullBool('c.claimed_at'), claimed_at: 'c.claimed_at', claimed_by_masterid: 'c.masterid',
  complete: { col: 'br.complete', bool: true }, results: 'br.results', submitted_at: 'br.submitted_at',
  complete_at: 'br.complete_at', waited_for: { col: 'br.waited_for', bool: true },
}

function base(ctx: ReadCtx): AnySelect {
  return ctx.k.selectFrom('buildrequests as br').leftJoin('buildrequest_claims as c', 'c.brid', 'br.buildrequestid')
    .selectAll('br').select(['c.claimed_at', 'c.masterid as claimed_by_masterid']) as unknown as AnySelect
}

/** `property=` on buildrequests returns the buildset's properties (null when not asked). */
async function entities(ctx: ReadCtx, rows: BuildRequestRow[]): Promise<Entity[]> {
  const out = rows.map((r) => toBuildRequest(r) as unknown as Entity)
  const names = ctx.spec.properties
  if (!names || !rows.length) return out
  const bsids = [...new Set(rows.map((r) => r.buildsetid))]
  const props = new Map((await ctx.k.selectFrom('buildsets').select(['bsid', 'properties']).where('bsid', 'in', bsids).execute())
    .map((b) => [b.bsid, pickProperties(parseJson(b.properties, {}), names)]))
  for (const e of out) e.properties = props.get(e.buildsetid as number) ?? {}
  return out
}

export const buildRequestEndpoints: EndpointDef[] = [
  {
    kind: 'collection', type: buildRequestType, patterns: ['buildrequests', 'builders/n:builderid/buildrequests'],
    async get(ctx) {
      let q = base(ctx)
      if (ctx.args.builderid != null) q = q.where('br.builderid', '=', ctx.args.builderid)
      const p = await runSqlSpec<BuildRequestRow>(q, ctx.spec, sqlFields, { dialect: ctx.dialect, pk: 'br.buildrequestid' })
      return { items: await entities(ctx, p.rows), total: p.total, rest: p.rest }
    },
  },
  {
    kind: 'single', type: buildRequestType, patterns: ['buildrequests/n:buildrequestid'],
    async get(ctx) {
      const row = await base(ctx).where('br.buildrequestid', '=', ctx.args.buildrequestid).executeTakeFirst() as BuildRequestRow | undefined
      return row ? (await entities(ctx, [row]))[0] : undefined
    },
  },
]
