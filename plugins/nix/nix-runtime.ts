import type { PluginRuntime } from '../../core/index.ts'
import type { NixEvaluator } from './eval/nix-evaluator.ts'
import type { NixVersion } from './eval/nix-version.ts'
import type { JobsStore } from './jobs-store.ts'
import type { NixBuildBatcher } from './build-batcher.ts'
import type { StoreServe } from './store/store-serve.ts'

/** What `nix` this master can use, probed at start. */
export type NixAvailability =
  | { ok: true; version: NixVersion; evaluator: NixEvaluator }
  | { ok: false; message: string }

/** The message an evaluation fails with when nix is not installed. */
export const NIX_MISSING = "'nix' not found on PATH: install it with `apt-get install nix-bin` or see https://nixos.org/download"

/**
 * What the plugin has once it started: the master's parts, the jobs table, the nix found and the
 * shared `nix build` processes (unless `shareNixProcesses: false`). Set once; never changed.
 */
export interface NixRuntime {
  rt: PluginRuntime
  jobs: JobsStore
  nix: NixAvailability
  batcher?: NixBuildBatcher
  /** The long-running `nix-store --serve` the shared processes ask which outputs are valid. */
  store?: StoreServe
}

/**
 * Where the started runtime is found by the hops, which run only in builds (after start).
 * `get` throws before start; `peek` does not.
 */
export function createRuntimeSlot() {
  let current: NixRuntime | undefined
  return {
    set(r: NixRuntime): void { current = r },
    get(): NixRuntime {
      if (!current) throw new Error('the nix plugin is not started')
      return current
    },
    peek(): NixRuntime | undefined { return current },
  }
}

export type RuntimeSlot = ReturnType<typeof createRuntimeSlot>
