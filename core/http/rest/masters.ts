import { toMaster } from '../../data/masters.ts'
import type { EndpointDef, ReadCtx } from './endpoint.ts'
import { memoryPage } from './endpoint.ts'
import type { ResourceType } from '../result-spec.ts'

export const masterType: ResourceType = { plural: 'masters', fields: { masterid: 'int', name: 'str', active: 'bool', last_active: 'epoch' } }

async function load(ctx: ReadCtx) {
  const { k, args } = ctx
  let q = k.selectFrom('masters').selectAll()
  if (args.masterid != null) q = q.where('masterid', '=', Number(args.masterid))
  if (args.builderid != null) q = q.where('masterid', 'in', k.selectFrom('builder_masters').select('masterid').where('builderid', '=', Number(args.builderid)))
  return (await q.orderBy('masterid').execute()).map((r) => toMaster(r) as unknown as Record<string, unknown>)
}

export const masterEndpoints: EndpointDef[] = [
  { kind: 'collection', type: masterType, patterns: ['masters', 'builders/n:builderid/masters'], async get(ctx) { return memoryPage(await load(ctx), ctx.spec) } },
  { kind: 'single', type: masterType, patterns: ['masters/n:masterid', 'builders/n:builderid/masters/n:masterid'], async get(ctx) { return (await load(ctx))[0] } },
]
