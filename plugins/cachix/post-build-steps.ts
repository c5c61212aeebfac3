import { SKIPPED, SUCCESS, interpolate, steps, type Renderable, type StepContext, type StepSpec } from '../../core/index.ts'
import { branchMatches } from './format.ts'
import type { PostBuildStepOptions } from './options.ts'

type Value = PostBuildStepOptions['command'][number]

/** A configured value: a literal string, buildbot-nix's `{ _type: 'interpolate', value }`, or a renderable. */
export function toRenderable(v: Value): string | Renderable<string> {
  if (typeof v === 'string') return v
  if ('_type' in v && (v as { _type: unknown })._type === 'interpolate') return interpolate((v as { value: string }).value)
  return v as Renderable<string>
}

/** Whether a post-build step runs in this build: trusted builds only unless `trustedOnly: false`, and its branches. */
export function stepApplies(o: PostBuildStepOptions, ctx: StepContext): boolean {
  if ((o.trustedOnly ?? true) && !ctx.build.trusted) return false
  return branchMatches(o.branches, String(ctx.getProperty('branch') ?? ''))
}

/**
 * buildbot-nix's `postBuildSteps`: each a command (argv, no shell) run on the worker in the
 * build directory after a successful `nix build`, with the attribute's properties, its
 * environment rendered (interpolations and secrets), and `warnOnly` turning a failure into
 * WARNINGS.
 */
export function postBuildStep(o: PostBuildStepOptions): StepSpec {
  const env = o.environment ? Object.fromEntries(Object.entries(o.environment).map(([k, v]) => [k, toRenderable(v)])) : undefined
  return steps.shell({
    name: o.name, command: o.command.map(toRenderable), env,
    flunkOnFailure: !o.warnOnly, warnOnFailure: !!o.warnOnly,
    doStepIf: (ctx) => stepApplies(o, ctx),
    hideStepIf: (r) => r === SKIPPED, // a step its conditions leave out stays out of sight
  })
}

/**
 * Makes `result-<attr>` in the build directory point at the output (as buildbot-nix's steps
 * expect) when the build shared a nix process and made no out-link; `nix build` of a store path
 * that is already valid only adds the link. Runs when one of the post-build steps will.
 */
export function outLinkStep(configured: PostBuildStepOptions[]): StepSpec {
  return steps.shell({
    name: 'link result', command: ['nix', 'build', '--out-link', interpolate('result-%(prop:attr)s'), interpolate('%(prop:out_path)s')],
    doStepIf: (ctx) => !!ctx.getProperty('out_path') && configured.some((o) => stepApplies(o, ctx)),
    hideStepIf: (r) => r === SUCCESS || r === SKIPPED,
  })
}
