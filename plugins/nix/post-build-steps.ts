import { SKIPPED, type StepContext, type StepSpec } from '../../core/index.ts'

/** When a post-build step runs. All given conditions must hold. */
export interface PostBuildCondition {
  /** Globs (`*` = anything) on the branch built, e.g. `['main', 'release-*']`; pull requests have `refs/pull/<n>/...` branches. */
  branches?: string[]
  /** Only in trusted builds (never for pull requests from outside). */
  trustedOnly?: boolean
}

export interface PostBuildStepOptions {
  when?: PostBuildCondition
  /**
   * Also for attributes skipped because their outputs were already built: then the step runs in
   * the evaluation build after the matrix, once per such attribute, with that attribute's
   * properties (`attr`, `out_path`, `drv_path`, `system`).
   */
  alsoForSkipped?: boolean
}

const globRe = (g: string): RegExp => new RegExp('^' + g.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$')

/** Whether `cond` holds for the build of `ctx`. */
export function conditionHolds(cond: PostBuildCondition | undefined, ctx: StepContext): boolean {
  if (!cond) return true
  if (cond.trustedOnly && !ctx.build.trusted) return false
  if (cond.branches) {
    const branch = String(ctx.getProperty('branch') ?? '')
    if (!cond.branches.some((g) => globRe(g).test(branch))) return false
  }
  return true
}

/** The step, run only when `cond` holds (hidden when it does not). */
export function conditionalStep(step: StepSpec, cond: PostBuildCondition | undefined, nameSuffix = ''): StepSpec {
  if (!cond && !nameSuffix) return step
  const { doStepIf, hideStepIf } = step.options
  return {
    kind: 'step', type: step.type, name: step.name + nameSuffix, fingerprint: [step.fingerprint, cond ?? null, nameSuffix],
    options: {
      ...step.options,
      doStepIf: async (ctx) => {
        if (!conditionHolds(cond, ctx)) return false
        return typeof doStepIf === 'function' ? doStepIf(ctx) : doStepIf !== false
      },
      // A step its condition leaves out stays out of sight.
      hideStepIf: (r) => r === SKIPPED || (typeof hideStepIf === 'function' ? hideStepIf(r) : !!hideStepIf),
    },
    run: (ctx) => step.run(ctx),
  }
}
