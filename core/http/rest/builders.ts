import { toBuilder } from '../../data/builders.ts'
import type { EndpointDef, ReadCtx } from './endpoint.ts'
import { memoryPage } from './endpoint.ts'
import type { ResourceType } from '../result-spec.ts'

export const builderType: ResourceType = {
  plural: 'builders',
  fields: {
    builderid: 'int', name: 'str', masterids: 'list', description: 'str', description_format: 'str', description_html: 'str',
    projectid: 'int', tags: 'list',
  },
}

/** Builders are few (one per configured builder); they are read whole and filtered in memory. */
async function load(ctx: ReadCtx) {
  const { k, args } = ctx
  let q = k.selectFrom('builders').selectAll()
  if (args.builderid != null) q = q.where('builderid', '=', Number(args.builderid))
  if (args.buildername != null) q = q.where('name', '=', String(args.buildername))
  if (args.projectid != null) q = q.where('projectid', '=', Number(args.projectid))
  if (args.masterid != null) q = q.where('builderid', 'in', k.selectFrom('builder_masters').select('builderid').where('masterid', '=', Number(args.masterid)))
  if (args.workerid != null) q = q.where('builderid', 'in', k.selectFrom('configured_workers').select('builderid').where('workerid', '=', Number(args.workerid)))
  const rows = await q.orderBy('builderid').execute()
  const links = rows.length ? await k.selectFrom('builder_masters').select(['builderid', 'masterid']).where('builderid', 'in', rows.map((r) => r.builderid)).execute() : []
  return rows.map((r) => toBuilder(r, links.filter((l) => l.builderid === r.builderid).map((l) => l.masterid)) as unknown as Record<string, unknown>)
}

export const builderEndpoints: EndpointDef[] = [
  {
    kind: 'collection', type: builderType,
    patterns: ['builders', 'masters/n:masterid/builders', 'projects/n:projectid/builders', 'workers/n:workerid/builders'],
    async get(ctx) { return memoryPage(await load(ctx), ctx.spec) },
  },
  {
    kind: 'single', type: builderType, patterns: ['builders/n:builderid', 'builders/s:buildername', 'masters/n:masterid/builders/n:builderid'],
    async get(ctx) { return (await load(ctx))[0] },
  },
]
