import { toProject } from '../../data/projects.ts'
import type { EndpointDef, ReadCtx } from './endpoint.ts'
import { memoryPage } from './endpoint.ts'
import type { ResourceType } from '../result-spec.ts'

export const projectType: ResourceType = {
  plural: 'projects',
  fields: {
    projectid: 'int', name: 'ident', slug: 'ident', active: 'bool', description: 'str', description_format: 'str', description_html: 'str',
    // The project registry's fields (not in Buildbot).
    registered: 'bool', forge: 'str', clone_url: 'str', default_branch: 'str', private: 'bool', owner: 'str', web_url: 'str', branches: 'list',
    poll_interval: 'int', source: 'str',
  },
}

/** `active` (a builder of the project runs on some master) is computed only when filtered on, as in Buildbot. */
async function load(ctx: ReadCtx) {
  const { k, args } = ctx
  let q = k.selectFrom('projects').selectAll()
  if (args.projectid != null) q = q.where('projectid', '=', Number(args.projectid))
  if (args.projectname != null) q = q.where('name', '=', String(args.projectname))
  const items = (await q.orderBy('projectid').execute()).map((r) => toProject(r) as unknown as Record<string, unknown>)
  if (ctx.spec.filters.some((f) => f.field === 'active')) {
    const active = new Set((await k.selectFrom('builders as b').innerJoin('builder_masters as bm', 'bm.builderid', 'b.builderid')
      .select('b.projectid').where('b.projectid', 'is not', null).execute()).map((r) => r.projectid))
    for (const p of items) p.active = active.has(p.projectid as number)
  }
  return items
}

export const projectEndpoints: EndpointDef[] = [
  { kind: 'collection', type: projectType, patterns: ['projects'], async get(ctx) { return memoryPage(await load(ctx), ctx.spec) } },
  { kind: 'single', type: projectType, patterns: ['projects/n:projectid', 'projects/i:projectname'], async get(ctx) { return (await load(ctx))[0] } },
]
