import type { EndpointDef, ReadCtx } from './endpoint.ts'
import { STEP_PREFIXES, resolveLogId } from './resolve.ts'
import type { ResourceType } from '../result-spec.ts'

export const logChunkType: ResourceType = { plural: 'logchunks', fields: { logid: 'int', firstline: 'int', content: 'str' } }
const rawType: ResourceType = { plural: 'raw', fields: {} }

/** The six ways to name a log (Buildbot has no by-builder-name variant here). */
const LOG_PATHS = ['logs/n:logid', ...STEP_PREFIXES.filter((s) => !s.includes('s:buildername')).map((s) => `${s}/logs/i:log_slug`)]

/** The log whose contents are asked for; a log pruned by the janitor (type `d`) has none: 404. */
async function loadLog(ctx: ReadCtx) {
  const id = await resolveLogId(ctx.k, ctx.args)
  if (id == null) return undefined
  const log = await ctx.k.selectFrom('logs').selectAll().where('logid', '=', id).executeTakeFirst()
  return log?.type === 'd' ? undefined : log
}

/** The whole log as Buildbot's `/raw` gives it: stdio logs get a header and lose their stream prefixes. */
async function rawLog(ctx: ReadCtx) {
  const log = await loadLog(ctx)
  if (!log) return undefined
  const info = await ctx.k.selectFrom('steps as s').innerJoin('builds as b', 'b.buildid', 's.buildid')
    .innerJoin('builders as bl', 'bl.builderid', 'b.builderid').leftJoin('workers as w', 'w.workerid', 'b.workerid')
    .select(['s.name as step', 'b.number', 'bl.name as builder', 'w.name as worker']).where('s.stepid', '=', log.stepid).executeTakeFirst()
  const text = log.num_lines ? await ctx.surface.data.logs.getLogLines(log.logid, 0, log.num_lines - 1) : ''
  let body = text
  if (log.type === 's') {
    body = `Builder: ${info?.builder ?? ''}\nBuild number: ${info?.number ?? ''}\nWorker name: ${info?.worker ?? ''}\n`
    body += text.split('\n').map((l) => l.slice(1)).join('\n')
  }
  return {
    body, mime: log.type === 'h' ? 'text/html' : 'text/plain',
    filename: `${info?.builder ?? ''}_build_${info?.number ?? ''}_step_${info?.step ?? ''}_log_${log.slug}`,
  }
}

export const logChunkEndpoints: EndpointDef[] = [
  {
    kind: 'single', type: logChunkType, patterns: LOG_PATHS.map((p) => `${p}/contents`),
    async get(ctx) {
      const log = await loadLog(ctx)
      if (!log) return undefined
      const first = ctx.spec.offset ?? 0
      const last = Math.min(ctx.spec.limit != null ? first + ctx.spec.limit - 1 : log.num_lines - 1, log.num_lines - 1)
      if (first > 0 && first >= log.num_lines) return undefined
      const content = last >= first ? await ctx.surface.data.logs.getLogLines(log.logid, first, last) : ''
      return { logid: log.logid, firstline: first, content }
    },
  },
  { kind: 'raw', type: rawType, patterns: LOG_PATHS.map((p) => `${p}/raw`), get: rawLog },
  { kind: 'raw_inline', type: rawType, patterns: LOG_PATHS.map((p) => `${p}/raw_inline`), get: rawLog },
]
