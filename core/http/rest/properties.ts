import { parseJson } from '../../data/context.ts'
import type { EndpointDef } from './endpoint.ts'
import { resolveBuildId } from './resolve.ts'
import type { ResourceType } from '../result-spec.ts'

/** Properties are one dict `{name: [value, source]}` wrapped as a single entity. */
export const propertiesType: ResourceType = { plural: 'properties', fields: {} }

export const propertyEndpoints: EndpointDef[] = [
  {
    kind: 'single', type: propertiesType, patterns: ['builds/n:buildid/properties', 'builders/n:builderid/builds/n:build_number/properties'],
    async get(ctx) {
      const id = await resolveBuildId(ctx.k, ctx.args)
      if (id == null) return undefined
      const row = await ctx.k.selectFrom('builds').select('properties').where('buildid', '=', id).executeTakeFirst()
      return row ? parseJson(row.properties, {}) : undefined
    },
  },
  {
    kind: 'single', type: propertiesType, patterns: ['buildsets/n:bsid/properties'],
    async get(ctx) {
      const row = await ctx.k.selectFrom('buildsets').select('properties').where('bsid', '=', Number(ctx.args.bsid)).executeTakeFirst()
      return row ? parseJson(row.properties, {}) : undefined
    },
  },
]
