import type { StepContext, StepOptions, StepSpec } from '../process/step.ts'
import type { TriggerRequest } from '../process/trigger-service.ts'
import { EXCEPTION, SUCCESS, worstStatus, type Result } from '../util/results.ts'

export interface TriggerOptions extends StepOptions {
  schedulerNames?: string[]
  waitForFinish?: boolean
  /** Properties for every child (renderables allowed). */
  set_properties?: Record<string, unknown>
  /** Parent properties copied into every child. */
  copy_properties?: string[]
  /**
   * A fan-out: one child per entry, each with its own properties (buildbot-nix's BuildTrigger).
   * Computed when the step runs.
   */
  schedulersAndProperties?: (ctx: StepContext) => TriggerRequest[] | Promise<TriggerRequest[]>
}

/** Adds child buildsets, optionally waiting for them; the result is the worst child's. */
export function trigger(opts: TriggerOptions): StepSpec {
  return {
    kind: 'step', type: 'trigger', name: opts.name ?? 'trigger', options: opts,
    fingerprint: { schedulerNames: opts.schedulerNames ?? null, waitForFinish: !!opts.waitForFinish, fanout: !!opts.schedulersAndProperties },
    async run(ctx) {
      let requests: TriggerRequest[]
      if (opts.schedulersAndProperties) {
        requests = await opts.schedulersAndProperties(ctx)
      } else {
        const props: Record<string, unknown> = {}
        for (const p of opts.copy_properties ?? []) if (ctx.hasProperty(p)) props[p] = ctx.getProperty(p)
        Object.assign(props, await ctx.renderDeep(opts.set_properties ?? {}))
        requests = (opts.schedulerNames ?? []).map((scheduler) => ({ scheduler, properties: props }))
      }
      if (!requests.length) { await ctx.setStateString('nothing to trigger'); return SUCCESS }
      await ctx.setStateString(`triggering ${requests.length}`)
      const added = await ctx.trigger(requests)
      if (!opts.waitForFinish) { await ctx.setStateString(`triggered ${added.length}`); return SUCCESS }
      const bsids = added.map((a) => a.bsid)
      const onAbort = () => {
        ctx.cancelBuildsets(bsids, 'parent build stopped')
          .catch((err: Error) => ctx.log.error({ buildid: ctx.build.buildid, bsids, err: err.message }, 'cancelling the triggered builds of a stopped build failed'))
      }
      ctx.signal.addEventListener('abort', onAbort, { once: true })
      let done = 0
      const results = await ctx.waitForBuildsets(bsids, () => { done++ })
      ctx.signal.removeEventListener('abort', onAbort)
      let result: Result = SUCCESS
      const counts = new Map<number, number>()
      for (const r of results.values()) { result = worstStatus(result, r); counts.set(r, (counts.get(r) ?? 0) + 1) }
      await ctx.setStateString(`triggered ${done} builds`)
      return result === EXCEPTION ? EXCEPTION : result
    },
  }
}
