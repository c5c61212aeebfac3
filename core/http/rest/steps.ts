import type { Selectable } from 'kysely'
import { toStep } from '../../data/steps.ts'
import type { StepsTable } from '../../db/schema.ts'
import type { EndpointDef } from './endpoint.ts'
import { BUILD_PREFIXES, STEP_PREFIXES, resolveBuildId, resolveStepId } from './resolve.ts'
import type { ResourceType } from '../result-spec.ts'
import { notNullBool, runSqlSpec, type AnySelect, type SqlFields } from '../sql-spec.ts'

export const stepType: ResourceType = {
  plural: 'steps',
  fields: {
    stepid: 'int', number: 'int', name: 'ident', buildid: 'int', started_at: 'epoch', locks_acquired_at: 'epoch', complete: 'bool',
    complete_at: 'epoch', results: 'int', state_string: 'str', urls: 'list', hidden: 'bool',
  },
}
const sqlFields: SqlFields = {
  stepid: 'stepid', number: 'number', name: 'name', buildid: 'buildid', started_at: 'started_at', locks_acquired_at: 'started_at',
  complete: notNullBool('complete_at'), complete_at: 'complete_at', results: 'results', state_string: 'state_string',
  hidden: { col: 'hidden', bool: true },
}
const toEntity = (r: Selectable<StepsTable>) => toStep(r) as unknown as Record<string, unknown>

export const stepEndpoints: EndpointDef[] = [
  {
    kind: 'collection', type: stepType, patterns: BUILD_PREFIXES.map((b) => `${b}/steps`),
    async get(ctx) {
      const buildid = (await resolveBuildId(ctx.k, ctx.args)) ?? -1
      const q = ctx.k.selectFrom('steps').selectAll().where('buildid', '=', buildid) as AnySelect
      const spec = ctx.spec.order.length ? ctx.spec : { ...ctx.spec, order: [{ field: 'number', desc: false }] }
      const p = await runSqlSpec<Selectable<StepsTable>>(q, spec, sqlFields, { dialect: ctx.dialect, pk: 'stepid' })
      return { items: p.rows.map(toEntity), total: p.total, rest: p.rest }
    },
  },
  {
    kind: 'single', type: stepType, patterns: STEP_PREFIXES,
    async get(ctx) {
      const id = await resolveStepId(ctx.k, ctx.args)
      if (id == null) return undefined
      const row = await ctx.k.selectFrom('steps').selectAll().where('stepid', '=', id).executeTakeFirst()
      return row ? toEntity(row) : undefined
    },
  },
]
