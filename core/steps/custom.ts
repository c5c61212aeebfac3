import type { StepContext, StepOptions, StepSpec } from '../process/step.ts'
import type { Result } from '../util/results.ts'

/** A step whose work is a function; plugins build their steps this way. */
export function customStep(opts: StepOptions & { name: string; type?: string; fingerprint?: unknown; run(ctx: StepContext): Promise<Result> }): StepSpec {
  return { kind: 'step', type: opts.type ?? 'custom', name: opts.name, options: opts, fingerprint: opts.fingerprint ?? opts.name, run: opts.run }
}
