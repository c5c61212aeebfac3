import { createHook, type Hook, type HookOptions, type Result, type StepSpec } from '../../core/index.ts'
import type { JobState } from './jobs-store.ts'

/** What every Nix event says about the evaluation it belongs to. */
export interface NixEvalInfo {
  /** The project's name (`owner/repo` for forge projects). */
  project: string
  /** The project's clone URL (the changes' `repository`). */
  repository: string
  /** The evaluation build. */
  buildid: number
  /** The evaluation build's page in the web UI. */
  url: string
  branch: string
  /** The commit statuses belong to: a pull request's head, else the evaluated revision (null if unknown). */
  revision: string | null
  isDefaultBranch: boolean
  isPullRequest: boolean
  /** The build's trust (see `ctx.build.trusted`): pull requests from outside are not trusted. */
  trusted: boolean
}

export interface NixEvalFinished extends NixEvalInfo {
  /** SUCCESS, WARNINGS (evaluation warnings), FAILURE (the flake did not evaluate), CANCELLED (superseded or stopped). */
  results: Result
  /** Attributes evaluated (those that failed to evaluate included). */
  attributes: number
  /** Attributes that failed to evaluate (each fails as its own child). */
  failedToEvaluate: number
  warnings: number
  /** The jobs of an earlier evaluation of the same tree were reused. */
  reused: boolean
  /** Why the evaluation failed or was cancelled. */
  error?: string
}

/** One attribute's last result on the project's default branch. */
export interface NixPreviousResult { state: JobState; results: Result | null; buildid: number; childBuildid: number | null }

/** How an attribute's result compares with its last result on the default branch. */
export type NixResultChange = 'passing' | 'fixed' | 'new-failure' | 'still-failing'

export interface NixAttributeFinished extends NixEvalInfo {
  attr: string
  system: string
  /** `success`, `skipped` (already built), `failed`, `eval-failed`, `dependency-failed`, `cached-failure` or `cancelled`. */
  state: JobState
  results: Result
  drvPath: string | null
  outPath: string | null
  /** The child build (none for attributes skipped as already built). */
  childBuildid: number | null
  /** The child build's page, or the evaluation's when there is none. */
  attrUrl: string
  /** Why it failed (or was skipped). */
  reason: string | null
  /** Its last result on the default branch (null: none yet, e.g. a new attribute). */
  previous: NixPreviousResult | null
  /** Compared with `previous`; null when cancelled. */
  change: NixResultChange | null
}

export interface NixMatrixFinished extends NixEvalInfo {
  /** The worst result of all children (SUCCESS when every attribute passed or was already built). */
  results: Result
  /** Attributes per state. */
  counts: Partial<Record<JobState, number>>
  /** The evaluation's checkout on the evaluation build's worker, and the flake directory in it. */
  checkoutDir: string
  flakeDir: string
  /** The flake attribute evaluated (`checks` unless buildbot-nix.toml says otherwise). */
  attribute: string
  /**
   * Adds steps to the evaluation build, run after the matrix on its worker (shown in the UI as
   * steps of that build; a step may also trigger builds). Only during the call.
   */
  addSteps(steps: StepSpec[]): void
}

/** An effects run of one evaluation (the effects plugin reports these through `NixApi.emitEffects`). */
export interface NixEffectsEvent extends NixEvalInfo {
  phase: 'started' | 'finished'
  /** The worst effect's result (when finished). */
  results?: Result
  effects?: { name: string; results?: Result; url?: string }[]
  description?: string
}

/** The Nix plugin's events, each a typed hook (`nix.hooks.evalFinished.tap(ev => …)`). */
export interface NixHooks {
  evalStarted: Hook<NixEvalInfo>
  evalFinished: Hook<NixEvalFinished>
  /** Each attribute's final result, as soon as it is known (children finished, or skipped as built). */
  attributeFinished: Hook<NixAttributeFinished>
  /** The build matrix is over (not called when the evaluation failed or was superseded: see evalFinished). */
  matrixFinished: Hook<NixMatrixFinished>
  effects: Hook<NixEffectsEvent>
}

export function createNixHooks(opts: HookOptions): NixHooks {
  return {
    evalStarted: createHook('nix.evalStarted', opts),
    evalFinished: createHook('nix.evalFinished', opts),
    attributeFinished: createHook('nix.attributeFinished', opts),
    matrixFinished: createHook('nix.matrixFinished', opts),
    effects: createHook('nix.effects', opts),
  }
}

const FAILED: ReadonlySet<JobState> = new Set(['failed', 'eval-failed', 'dependency-failed', 'cached-failure'])

/** Whether a job state is a failure of the attribute. */
export const isFailedState = (s: JobState): boolean => FAILED.has(s)

/** new failure / still failing / fixed / passing, from the state now and on the default branch. */
export function resultChange(now: JobState, previous: NixPreviousResult | null): NixResultChange | null {
  if (now === 'cancelled' || now === 'pending' || now === 'building' || now === 'unsupported-system') return null
  const before = previous ? isFailedState(previous.state) : false
  if (isFailedState(now)) return before ? 'still-failing' : 'new-failure'
  return before ? 'fixed' : 'passing'
}
