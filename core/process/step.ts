import type { Result } from '../util/results.ts'
import type { Renderable, SecretOptions } from '../properties/renderable.ts'
import type { CommandResult, RemoteCommand, WorkerConnection } from '../workers/worker-connection.ts'
import type { Logger } from '../util/logger.ts'
import type { SourceStampEntity } from '../data/sourcestamps.ts'
import type { TriggerRequest, TriggeredBuildset } from './trigger-service.ts'
import type { GitAccess } from '../util/git-access.ts'

/** Options every step accepts (Buildbot's names). */
export interface StepOptions {
  name?: string
  haltOnFailure?: boolean
  flunkOnFailure?: boolean
  warnOnFailure?: boolean
  warnOnWarnings?: boolean
  flunkOnWarnings?: boolean
  alwaysRun?: boolean
  hideStepIf?: boolean | ((result: Result) => boolean)
  doStepIf?: boolean | ((ctx: StepContext) => boolean | Promise<boolean>)
  /** Per-step timeout in seconds without output (shell-like steps). */
  timeout?: number
  description?: string
}

/** A step as configured: a name and what to do when a build runs it. */
export interface StepSpec {
  readonly kind: 'step'
  readonly type: string
  readonly name: string
  readonly options: StepOptions
  /** Plain data that identifies the step's configuration (for reconfigure diffs). */
  readonly fingerprint: unknown
  run(ctx: StepContext): Promise<Result>
}

export interface LogWriter {
  readonly logid: number
  /** Text may hold partial lines; whole lines are flushed as they complete. */
  write(text: string, stream?: 'o' | 'e' | 'h'): void
  finish(): Promise<void>
}

export interface RunCommandOptions {
  /** Log the command's output into (default: a `stdio` log of the step). `false`: no log. */
  log?: LogWriter | false
  /** Collect stdout (and stderr) into the result. */
  collectStdout?: boolean
  collectStderr?: boolean
}

export interface StepBuildInfo {
  buildid: number
  number: number
  builderid: number
  builderName: string
  buildrequestid: number
  buildsetid: number
  workerName: string
  sourcestamps: SourceStampEntity[]
  /**
   * Whether this build may read secrets (its buildset's trust: the scheduler's decision, a
   * forced build's, or the parent's for triggered builds). Untrusted builds run code from
   * outside (a pull request) and fail a step that asks for a secret.
   */
  trusted: boolean
  /** The eval-style URL of this build in the web UI. */
  url: string
}

/** Everything a running step may use. */
export interface StepContext {
  readonly build: StepBuildInfo
  readonly stepid: number
  readonly worker: WorkerConnection
  /** Aborted when the build is stopped. */
  readonly signal: AbortSignal
  readonly log: Logger
  getProperty(name: string): unknown
  hasProperty(name: string): boolean
  setProperty(name: string, value: unknown, source: string): Promise<void>
  properties(): Record<string, [unknown, string]>
  render<T>(value: T | Renderable<T>): Promise<T>
  /**
   * A secret's value, for step code that needs one outside a renderable. Throws
   * SecretWithheldError in an untrusted build (the step then fails saying why).
   */
  secret(name: string, opts?: SecretOptions): Promise<string>
  /** Renders deeply: renderables inside arrays/objects too. */
  renderDeep<T>(value: T): Promise<T>
  addLog(name: string, type?: 's' | 't' | 'h'): Promise<LogWriter>
  /** Runs a worker command; output streams into the step's stdio log. */
  runCommand(cmd: Omit<RemoteCommand, 'builderName'>, opts?: RunCommandOptions): Promise<CommandResult & { stdout: string; stderr: string }>
  /**
   * The state string shown for the step. Resolved secrets in it are redacted, and so is the start
   * of one at its very end (a text cut short); cut a text after `redact`, never before.
   */
  setStateString(text: string): Promise<void>
  /** `text` with every resolved secret replaced by `<secret>`: for text a step shortens or stores itself. */
  redact(text: string): string
  /**
   * What the build's final text adds after its result: `build failed (3 failed, 1 cancelled)`.
   * The last call wins; secrets are redacted as in state strings.
   */
  setBuildSummary(text: string): void
  addURL(name: string, url: string): Promise<void>
  /** Fan out: adds buildsets for triggerable schedulers with this build as parent. */
  trigger(requests: TriggerRequest[]): Promise<TriggeredBuildset[]>
  /** Waits for triggered buildsets; resolves with each one's result. */
  waitForBuildsets(bsids: number[], onComplete?: (bsid: number, results: Result) => void): Promise<Map<number, Result>>
  /** Cancels the unfinished requests (and stops the builds) of these buildsets. */
  cancelBuildsets(bsids: number[], reason: string): Promise<void>
  /**
   * Credentials for fetching `url` (environment for git; its secrets are redacted), from the
   * plugins' `addGitAccess` providers; undefined when none knows the URL.
   */
  gitAccess?(url: string): Promise<GitAccess | undefined>
  /** Values a plugin put in the build for its steps (by key). */
  services: ServiceLocator
  /**
   * Adds steps to this build, run right after the current one (Buildbot's
   * `addStepsAfterCurrentStep`). `properties` are seen by those steps only (on top of the build's).
   */
  addStepsAfterCurrentStep(steps: StepSpec[], opts?: { properties?: Record<string, unknown> }): void
}

/** Typed access to services plugins provide (see createKey). */
export interface ServiceLocator {
  get<T>(key: { readonly id: string; readonly __type?: T }): T
}
