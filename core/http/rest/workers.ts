import type { Selectable } from 'kysely'
import { toWorker } from '../../data/workers.ts'
import type { WorkersTable } from '../../db/schema.ts'
import type { EndpointDef, ReadCtx } from './endpoint.ts'
import type { ResourceType } from '../result-spec.ts'
import { runSqlSpec, type AnySelect, type SqlFields } from '../sql-spec.ts'

export const workerType: ResourceType = {
  plural: 'workers',
  fields: {
    workerid: 'int', name: 'str', connected_to: 'list', configured_on: 'list', workerinfo: 'object', paused: 'bool',
    pause_reason: 'str', graceful: 'bool',
  },
}
const sqlFields: SqlFields = {
  workerid: 'w.workerid', name: 'w.name', paused: { col: 'w.paused', bool: true }, pause_reason: 'w.pause_reason', graceful: { col: 'w.graceful', bool: true },
}

function base(ctx: ReadCtx): AnySelect {
  const { k, args } = ctx
  let q = k.selectFrom('workers as w').selectAll('w') as AnySelect
  if (args.workerid != null) q = q.where('w.workerid', '=', Number(args.workerid))
  if (args.name != null) q = q.where('w.name', '=', String(args.name))
  if (args.masterid != null || args.builderid != null) {
    let sub = k.selectFrom('configured_workers').select('workerid')
    if (args.masterid != null) sub = sub.where('masterid', '=', Number(args.masterid))
    if (args.builderid != null) sub = sub.where('builderid', '=', Number(args.builderid))
    // Buildbot lists a master's workers by configuration or connection.
    if (args.masterid != null && args.builderid == null) {
      q = q.where((eb) => eb.or([eb('w.workerid', 'in', sub), eb('w.workerid', 'in', k.selectFrom('connected_workers').select('workerid').where('masterid', '=', Number(args.masterid)))]))
    } else q = q.where('w.workerid', 'in', sub)
  }
  return q
}

async function entities(ctx: ReadCtx, rows: Selectable<WorkersTable>[]) {
  const ids = rows.map((r) => r.workerid)
  if (!ids.length) return []
  const conn = await ctx.k.selectFrom('connected_workers').select(['workerid', 'masterid']).where('workerid', 'in', ids).execute()
  const conf = await ctx.k.selectFrom('configured_workers').select(['workerid', 'masterid', 'builderid']).where('workerid', 'in', ids).execute()
  return rows.map((r) => toWorker(r,
    conn.filter((c) => c.workerid === r.workerid).map((c) => ({ masterid: c.masterid })),
    conf.filter((c) => c.workerid === r.workerid).map((c) => ({ masterid: c.masterid, builderid: c.builderid }))) as unknown as Record<string, unknown>)
}

export const WORKER_SINGLE = ['workers/n:workerid', 'workers/i:name', 'masters/n:masterid/workers/n:workerid', 'masters/n:masterid/workers/i:name',
  'masters/n:masterid/builders/n:builderid/workers/n:workerid', 'masters/n:masterid/builders/n:builderid/workers/i:name',
  'builders/n:builderid/workers/n:workerid', 'builders/n:builderid/workers/i:name']

export const workerEndpoints: EndpointDef[] = [
  {
    kind: 'collection', type: workerType,
    patterns: ['workers', 'masters/n:masterid/workers', 'masters/n:masterid/builders/n:builderid/workers', 'builders/n:builderid/workers'],
    async get(ctx) {
      const p = await runSqlSpec<Selectable<WorkersTable>>(base(ctx), ctx.spec, sqlFields, { dialect: ctx.dialect, pk: 'w.workerid' })
      return { items: await entities(ctx, p.rows), total: p.total, rest: p.rest }
    },
  },
  {
    kind: 'single', type: workerType, patterns: WORKER_SINGLE,
    async get(ctx) { return (await entities(ctx, await base(ctx).execute() as Selectable<WorkersTable>[]))[0] },
  },
]
