import type { EndpointDef, ReadCtx } from './endpoint.ts'
import { memoryPage } from './endpoint.ts'
import type { ResourceType } from '../result-spec.ts'

export const forceSchedulerType: ResourceType = {
  plural: 'forceschedulers',
  fields: { name: 'ident', button_name: 'str', label: 'str', builder_names: 'list', enabled: 'bool', all_fields: 'list' },
}

/** Force schedulers come from the configuration, not the database. */
async function load(ctx: ReadCtx) {
  let list = ctx.surface.control.forceSchedulers()
  if (ctx.args.builderid != null) {
    // `:builderid` is untyped in Buildbot's pattern: a non-integer simply matches no builder.
    const id = Number(ctx.args.builderid)
    const row = Number.isInteger(id) ? await ctx.k.selectFrom('builders').select('name').where('builderid', '=', id).executeTakeFirst() : undefined
    list = row ? list.filter((f) => f.builder_names.includes(row.name)) : []
  }
  if (ctx.args.schedulername != null) list = list.filter((f) => f.name === ctx.args.schedulername)
  return list as unknown as Record<string, unknown>[]
}

export const forceSchedulerEndpoints: EndpointDef[] = [
  { kind: 'collection', type: forceSchedulerType, patterns: ['forceschedulers', 'builders/:builderid/forceschedulers'], async get(ctx) { return memoryPage(await load(ctx), ctx.spec) } },
  { kind: 'single', type: forceSchedulerType, patterns: ['forceschedulers/i:schedulername'], async get(ctx) { return (await load(ctx))[0] } },
]
