import type { Renderable } from '../properties/renderable.ts'
import type { StepOptions, StepSpec } from '../process/step.ts'
import { SUCCESS } from '../util/results.ts'

export function setProperty(opts: StepOptions & { property: string; value: unknown | Renderable }): StepSpec {
  return {
    kind: 'step', type: 'setProperty', name: opts.name ?? 'set property', options: opts,
    fingerprint: { property: opts.property, value: String(opts.value) },
    async run(ctx) {
      const value = await ctx.renderDeep(opts.value)
      await ctx.setProperty(opts.property, value, 'SetProperty Step')
      await ctx.setStateString(`property '${opts.property}' set`)
      return SUCCESS
    },
  }
}
