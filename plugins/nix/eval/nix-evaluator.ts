/**
 * The evaluation side of the Nix plugin: turn `<flake>#<attribute>` into jobs, one per
 * derivation. Two implementations: `nix-eval-jobs` when installed, and a built-in one on plain
 * `nix eval` for machines without it.
 */

/** One evaluated attribute, shaped like a line of `nix-eval-jobs --check-cache-status`. */
export interface NixJob {
  /** Dotted attribute below the evaluated attribute, e.g. `x86_64-linux.hello`. */
  attr: string
  attrPath: string[]
  name?: string
  system?: string
  drvPath?: string
  /** Output name → out path; null when the path is not known (content-addressed outputs). */
  outputs?: Record<string, string | null>
  /** `local`: all outputs valid in the store; `cached`: substitutable; `notBuilt`: needs a build. */
  cacheStatus?: 'local' | 'cached' | 'notBuilt'
  /** Derivations in the closure (self excluded) whose outputs are missing and must be built. */
  neededBuilds?: string[]
  /** Derivations in the closure whose outputs can be substituted. */
  neededSubstitutes?: string[]
  inputDrvs?: Record<string, string[]>
  /** Set when this attribute failed to evaluate; the other fields are then mostly absent. */
  error?: string
}

export interface EvalRequest {
  /** Absolute directory of a checked-out tree holding flake.nix. */
  flakeDir: string
  /** Flake attribute to evaluate, e.g. `checks`, `hydraJobs`, `ci.buildbot`. */
  attribute: string
  /** Lock file relative to flakeDir; only used when it differs from `flake.lock`. */
  lockFile?: string
  /** For attributes keyed by system (`checks`, `packages`, …): evaluate only these systems. */
  systems?: string[]
  workers: number
  maxMemoryMiB: number
  timeoutSec: number
  /** Directory for eval-time `.drv` GC roots (nix-eval-jobs `--gc-roots-dir`). */
  gcRootsDir?: string
  signal?: AbortSignal
  /** A warning from stderr (`warning:` / `evaluation warning:` with continuation lines). */
  onWarning?(text: string): void
  /** Every stderr line, for the step log. */
  onLog?(line: string): void
}

export interface NixEvaluator {
  readonly name: string
  /** Yields jobs as they are evaluated; throws `EvalError` when the evaluation as a whole fails. */
  evaluate(req: EvalRequest): AsyncIterable<NixJob>
}

export type EvalErrorKind = 'failed' | 'timeout' | 'memory' | 'aborted' | 'output'

/** The evaluation as a whole failed (flake unreadable, top-level error, limit exceeded). */
export class EvalError extends Error {
  readonly kind: EvalErrorKind
  /** The tail of nix's stderr, when there was a process. */
  readonly stderr?: string
  constructor(message: string, kind: EvalErrorKind = 'failed', stderr?: string) {
    super(message)
    this.name = 'EvalError'
    this.kind = kind
    if (stderr !== undefined) this.stderr = stderr
  }
}

/** Flake outputs whose first level is keyed by system. */
export const SYSTEM_KEYED_ATTRIBUTES: ReadonlySet<string> = new Set([
  'checks', 'packages', 'devShells', 'apps', 'formatter', 'legacyPackages', 'bundlers',
])

/** Whether `attribute` is keyed by system (`checks`, `packages`, …), so `systems` applies. */
export function isSystemKeyed(attribute: string): boolean {
  return SYSTEM_KEYED_ATTRIBUTES.has(attribute)
}

/**
 * Joins an attribute path the way nix-eval-jobs prints `attr`: names that are not plain
 * identifiers are quoted (`x86_64-linux."foo.bar"`).
 */
export function attrPathToString(path: readonly string[]): string {
  return path.map((n) => (/^[A-Za-z_][A-Za-z0-9_'-]*$/.test(n) ? n : JSON.stringify(n))).join('.')
}

/** `2048` → `2 GiB`, `1536` → `1536 MiB`. */
function mib(n: number): string {
  return n % 1024 === 0 ? `${n / 1024} GiB` : `${n} MiB`
}

/** The evaluation hit its memory limit (`evalMaxMemorySize`): said as such, with the fix. */
export function outOfMemoryError(maxMemoryMiB: number, stderr?: string): EvalError {
  return new EvalError(`evaluation ran out of memory at ${mib(maxMemoryMiB)}: raise evalMaxMemorySize`, 'memory', stderr)
}
