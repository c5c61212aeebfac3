import type { PluginRuntime, StepSpec } from '../../core/index.ts'
import type { NixEvaluator } from './eval/nix-evaluator.ts'
import type { NixVersion } from './eval/nix-version.ts'
import type { FairSemaphore } from './fair-semaphore.ts'
import type { JobsStore } from './jobs-store.ts'
import type { ResolvedNixOptions, ResolvedProject } from './options.ts'
import type { MatrixRun } from './matrix-run.ts'
import type { NixBuildBatcher } from './build-batcher.ts'
import type { OutputKeeper } from './output-keeper.ts'
import type { NixHooks } from './nix-hooks.ts'

/** What `nix` this master can use, probed at start. */
export type NixAvailability =
  | { ok: true; version: NixVersion; evaluator: NixEvaluator }
  | { ok: false; message: string }

/**
 * Everything the plugin's steps share, one object per plugin instance (no module state). The
 * runtime parts are filled in when the plugin starts.
 */
export interface NixPluginState {
  opts: ResolvedNixOptions
  projects: Map<string, ResolvedProject>
  /** Post-build steps (already wrapped in their conditions), in every nix-build child. */
  postBuildSteps: StepSpec[]
  /** Post-build steps also run for attributes skipped as already built (in the evaluation build). */
  skippedPostBuildSteps: StepSpec[]
  /** The plugin's events (see NixApi.hooks). */
  hooks: NixHooks
  /** The step list of each project's nix-build builder (post-build steps go before its last step). */
  buildStepLists: Map<string, StepSpec[]>
  evalSem: FairSemaphore
  rt?: PluginRuntime
  jobs?: JobsStore
  nix?: Promise<NixAvailability>
  /** Build matrices of running evaluations, by eval build id. */
  runs: Map<number, MatrixRun>
  /** Shared `nix build` processes for children on a local worker (unless `shareNixProcesses: false`). */
  batcher?: NixBuildBatcher
  /** GC roots and outputsPath entries (the last hop of a default-branch attribute). */
  outputs: OutputKeeper
}

/** The message an evaluation fails with when nix is not installed. */
export const NIX_MISSING = "'nix' not found on PATH: install it with `apt-get install nix-bin` or see https://nixos.org/download"

export function started(state: NixPluginState): { rt: PluginRuntime; jobs: JobsStore } {
  if (!state.rt || !state.jobs) throw new Error('the nix plugin is not started')
  return { rt: state.rt, jobs: state.jobs }
}
