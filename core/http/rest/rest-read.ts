import type { HttpSurface, RestEndpoint } from '../master-surface.ts'
import { PathTable, type PathArgs } from '../path-match.ts'
import { QueryError, applyInMemory, parseResultSpec, selectFields } from '../result-spec.ts'
import type { EndpointDef, Entity, RawBody } from './endpoint.ts'
import { builtinEndpoints } from './registry.ts'

export type ReadResult =
  | { status: number; json: unknown }
  | { status: 200; raw: RawBody; inline: boolean }

type Target = { def: EndpointDef } | { plugin: RestEndpoint }

/**
 * GET side of `/api/v2`: matches the path against the built-in table, then the plugins' endpoints,
 * parses the query into a result spec and answers with Buildbot's envelope or error body.
 */
export function createRestReader(surface: HttpSurface) {
  const builtin = new PathTable<Target>()
  for (const def of builtinEndpoints) for (const p of def.patterns) builtin.add(p, { def })
  let pluginSource: RestEndpoint[] | undefined
  let plugins = new PathTable<Target>()

  function match(segments: readonly string[]): { target: Target; args: PathArgs; pattern: string } | undefined {
    const b = builtin.find(segments)
    if (b) return { target: b.value, args: b.args, pattern: b.pattern }
    const list = surface.restEndpoints()
    if (list !== pluginSource) {
      pluginSource = list
      plugins = new PathTable<Target>()
      for (const plugin of list) plugins.add(plugin.path, { plugin })
    }
    const p = plugins.find(segments)
    return p && { target: p.value, args: p.args, pattern: p.pattern }
  }

  async function read(segments: readonly string[], query: [string, string][]): Promise<ReadResult> {
    const m = match(segments)
    if (!m) return { status: 404, json: { error: `Invalid path: ${segments.join('/')}` } }
    try {
      if ('plugin' in m.target) return await readPlugin(m.target.plugin, m.args, query)
      const def = m.target.def
      const spec = parseResultSpec(query, def.kind === 'collection' ? def.type : def.kind === 'single' && def.type.plural !== 'properties' ? def.type : undefined, { collection: def.kind === 'collection' })
      const k = surface.data.db.k
      const ctx = { surface, k, dialect: surface.data.db.dialect, args: m.args, spec }
      if (def.kind === 'raw' || def.kind === 'raw_inline') {
        const raw = await def.get(ctx)
        return raw ? { status: 200, raw, inline: def.kind === 'raw_inline' } : notFound(m.pattern, m.args)
      }
      if (def.kind === 'single') {
        const e = await def.get(ctx)
        return e ? { status: 200, json: { [def.type.plural]: [selectFields(e, spec.fields)], meta: {} } } : notFound(m.pattern, m.args)
      }
      const page = await (def as Extract<EndpointDef, { kind: 'collection' }>).get(ctx)
      const done = page.rest ? applyInMemory(page.items, page.rest) : page
      return { status: 200, json: { [def.type.plural]: done.items.map((e) => selectFields(e, spec.fields)), meta: { total: done.total } } }
    } catch (err) {
      if (err instanceof QueryError) return { status: 400, json: { error: err.message } }
      throw err
    }
  }

  async function readPlugin(ep: RestEndpoint, args: PathArgs, query: [string, string][]): Promise<ReadResult> {
    const spec = parseResultSpec(query, undefined, { collection: ep.kind === 'collection' })
    const items = await ep.get({ path: args })
    if (ep.kind === 'single') {
      const e = items?.[0]
      return e ? { status: 200, json: { [ep.plural]: [selectFields(e, spec.fields)], meta: {} } } : notFound(ep.path, args)
    }
    const page = applyInMemory((items ?? []) as Entity[], spec)
    return { status: 200, json: { [ep.plural]: page.items.map((e) => selectFields(e, spec.fields)), meta: { total: page.total } } }
  }

  return { match, read }
}

function notFound(pattern: string, args: PathArgs): ReadResult {
  return { status: 404, json: { error: `not found while getting from endpoint for ${pattern} with arguments ${JSON.stringify(args)}` } }
}

export type RestReader = ReturnType<typeof createRestReader>
