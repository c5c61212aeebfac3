import type { StepSpec } from './step.ts'

/** A builder as configured: where it may run and what it does. */
export interface BuilderConfig {
  readonly kind: 'builder'
  name: string
  workers: string[]
  steps: StepSpec[]
  description?: string
  tags?: string[]
  /** Project name this builder belongs to (shown by the UI; `/projects/N/builders`). */
  project?: string
  properties?: Record<string, unknown>
  /** Merge compatible pending requests (default: the master's `collapseRequests`). */
  collapseRequests?: boolean
  /** Directory name on the worker (default: the name with unsafe characters replaced). */
  builddir?: string
  /**
   * Builds of this builder one worker runs at once, each in its own directory. Default: one on a
   * remote worker (as Buildbot), no limit beyond the worker's own on a local worker.
   */
  maxBuildsPerWorker?: number
  /** Higher runs first among builders competing for the same worker. */
  priority?: number
}

/** Declares a builder: `builder({ name: 'lint', workers: ['local'], steps: [steps.shell({...})] })`. */
export function builder(config: Omit<BuilderConfig, 'kind'>): BuilderConfig {
  return { kind: 'builder', ...config }
}
