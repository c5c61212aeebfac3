import { toMaster } from '../../data/masters.ts'
import { bool } from '../../data/context.ts'
import type { EndpointDef, ReadCtx } from './endpoint.ts'
import { memoryPage } from './endpoint.ts'
import type { ResourceType } from '../result-spec.ts'

export const schedulerType: ResourceType = { plural: 'schedulers', fields: { schedulerid: 'int', name: 'str', enabled: 'bool', master: 'object' } }
export const changeSourceType: ResourceType = { plural: 'changesources', fields: { changesourceid: 'int', name: 'str', master: 'object' } }

async function schedulers(ctx: ReadCtx) {
  const { k, args } = ctx
  let q = k.selectFrom('schedulers as s').leftJoin('scheduler_masters as sm', 'sm.schedulerid', 's.schedulerid')
    .leftJoin('masters as m', 'm.masterid', 'sm.masterid')
    .select(['s.schedulerid', 's.name', 's.enabled', 'm.masterid', 'm.name as mname', 'm.active', 'm.last_active'])
  if (args.schedulerid != null) q = q.where('s.schedulerid', '=', Number(args.schedulerid))
  if (args.masterid != null) q = q.where('sm.masterid', '=', Number(args.masterid))
  return (await q.orderBy('s.schedulerid').execute()).map((r) => ({
    schedulerid: r.schedulerid, name: r.name, enabled: bool(r.enabled),
    master: r.masterid == null ? null : toMaster({ masterid: r.masterid, name: r.mname!, active: r.active!, last_active: r.last_active! }),
  }))
}

async function changeSources(ctx: ReadCtx) {
  const { k, args } = ctx
  let q = k.selectFrom('changesources as c').leftJoin('changesource_masters as cm', 'cm.changesourceid', 'c.changesourceid')
    .leftJoin('masters as m', 'm.masterid', 'cm.masterid')
    .select(['c.changesourceid', 'c.name', 'm.masterid', 'm.name as mname', 'm.active', 'm.last_active'])
  if (args.changesourceid != null) q = q.where('c.changesourceid', '=', Number(args.changesourceid))
  if (args.masterid != null) q = q.where('cm.masterid', '=', Number(args.masterid))
  return (await q.orderBy('c.changesourceid').execute()).map((r) => ({
    changesourceid: r.changesourceid, name: r.name,
    master: r.masterid == null ? null : toMaster({ masterid: r.masterid, name: r.mname!, active: r.active!, last_active: r.last_active! }),
  }))
}

export const schedulerEndpoints: EndpointDef[] = [
  { kind: 'collection', type: schedulerType, patterns: ['schedulers', 'masters/n:masterid/schedulers'], async get(ctx) { return memoryPage(await schedulers(ctx), ctx.spec) } },
  { kind: 'single', type: schedulerType, patterns: ['schedulers/n:schedulerid', 'masters/n:masterid/schedulers/n:schedulerid'], async get(ctx) { return (await schedulers(ctx))[0] } },
  { kind: 'collection', type: changeSourceType, patterns: ['changesources', 'masters/n:masterid/changesources'], async get(ctx) { return memoryPage(await changeSources(ctx), ctx.spec) } },
  {
    kind: 'single', type: changeSourceType, patterns: ['changesources/n:changesourceid', 'masters/n:masterid/changesources/n:changesourceid'],
    async get(ctx) { return (await changeSources(ctx))[0] },
  },
]
