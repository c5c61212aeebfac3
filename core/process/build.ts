import { isStorageFull } from '../db/storage-error.ts'
import type { Data } from '../data/data.ts'
import type { Properties } from '../data/buildsets.ts'
import type { Logger } from '../util/logger.ts'
import { CANCELLED, EXCEPTION, FAILURE, RETRY, SKIPPED, SUCCESS, WARNINGS, worstStatus, type Result } from '../util/results.ts'
import { renderDeep, isRenderable, type RenderContext, type SecretOptions } from '../properties/renderable.ts'
import { SecretWithheldError, isSecretWithheld, redactDeep } from '../secrets/secrets.ts'
import { WorkerLostError, type WorkerConnection } from '../workers/worker-connection.ts'
import { createLogWriter, LogWriteError } from './log-writer.ts'
import type { LogWriter, ServiceLocator, StepBuildInfo, StepContext, StepSpec } from './step.ts'
import type { TriggerRequest, TriggeredBuildset } from './trigger-service.ts'
import type { SourceStampEntity } from '../data/sourcestamps.ts'
import { stepIdentifier } from '../data/steps.ts'
import type { GitAccess } from '../util/git-access.ts'


/** What a build needs from the master. */
export interface BuildDeps {
  data: Data
  log: Logger
  buildbotURL: string
  secret(name: string): Promise<string>
  redact(text: string): string
  trigger(parent: StepBuildInfo, requests: TriggerRequest[], props: Properties): Promise<TriggeredBuildset[]>
  waitForBuildsets(bsids: number[], onComplete?: (bsid: number, results: Result) => void): Promise<Map<number, Result>>
  cancelBuildsets(bsids: number[], reason: string): Promise<void>
  services: ServiceLocator
  /** Credentials for a git URL from the plugins' providers (absent: none). */
  gitAccess?(url: string): Promise<GitAccess | undefined>
}

export interface BuildRequestInfo {
  buildrequestid: number
  buildsetid: number
  builderid: number
  properties: Properties
  sourcestamps: SourceStampEntity[]
  reason: string
  /** The buildset's trust (secrets resolve only when true). */
  trusted: boolean
}

export interface BuilderInfo {
  name: string; builderid: number; steps: readonly StepSpec[]; properties: Record<string, unknown>; workerid: number
  /** The name whose directory the build uses on the worker (the builder's, or a slot of it). */
  dirKey?: string
}

/** One run of a builder's steps on one worker for one (possibly collapsed) request. */
export class Build {
  readonly controller = new AbortController()
  buildid = 0
  number = 0
  private props: Properties = {}
  private stopReason: string | null = null
  private results: Result = SUCCESS
  /** Set by a step (`ctx.setBuildSummary`): shown after the result in the build's final text. */
  summary: string | null = null

  constructor(private readonly deps: BuildDeps, readonly builder: BuilderInfo, readonly request: BuildRequestInfo, readonly worker: WorkerConnection) {}

  private stopResult: Result = CANCELLED

  /** Stops the build: the running command is interrupted; the build ends CANCELLED (or `result`). */
  stop(reason: string, result: Result = CANCELLED): void {
    if (this.stopReason) return
    this.stopReason = reason
    this.stopResult = result
    this.controller.abort(new Error(reason))
  }

  get stopped(): boolean { return this.stopReason != null }

  async run(): Promise<Result> {
    const { data } = this.deps
    const ss = this.request.sourcestamps[0]
    const props: Properties = {}
    for (const [k, v] of Object.entries(this.builder.properties)) props[k] = [v, 'Builder']
    Object.assign(props, this.request.properties)
    const setp = (k: string, v: unknown, src: string) => { props[k] = [v, src] }
    setp('buildername', this.builder.name, 'Builder')
    setp('workername', this.worker.workerName, 'Worker')
    if (ss) {
      setp('branch', ss.branch, 'Build'); setp('revision', ss.revision, 'Build'); setp('repository', ss.repository, 'Build')
      setp('codebase', ss.codebase, 'Build'); setp('project', props.project?.[0] ?? ss.project, 'Build')
    }
    if (!props.reason) setp('reason', this.request.reason, 'Build')
    // Buildbot's `owners`: the authors of the build's changes and the owner of its request, sorted.
    const owners = new Set<unknown>()
    for (const s of this.request.sourcestamps) {
      const author = (await data.changes.latestChangeOfSourcestamp(s.ssid))?.author
      if (author) owners.add(author)
    }
    if (this.request.properties.owner) owners.add(this.request.properties.owner[0])
    if (owners.size) setp('owners', [...owners].sort(), 'Build')
    setp('builddir', this.worker.builderDir(this.builder.dirKey ?? this.builder.name), 'Worker')
    this.props = props
    const build = await data.builds.addBuild({
      builderid: this.builder.builderid, buildrequestid: this.request.buildrequestid, workerid: this.builder.workerid,
      // Stored and published with resolved secrets redacted (a parent's property copied into it may hold one).
      state_string: 'building', properties: redactDeep(props, this.deps.redact) as Properties,
    })
    this.buildid = build.buildid
    this.number = build.number
    await this.setProperty('buildnumber', build.number, 'Build')

    const info: StepBuildInfo = {
      buildid: build.buildid, number: build.number, builderid: this.builder.builderid, builderName: this.builder.name,
      buildrequestid: this.request.buildrequestid, buildsetid: this.request.buildsetid, workerName: this.worker.workerName,
      sourcestamps: this.request.sourcestamps, trusted: this.request.trusted, url: `${this.deps.buildbotURL}#/builders/${this.builder.builderid}/builds/${build.number}`,
    }
    let halted = false
    const usedNames = new Set<string>()
    // Steps may add steps after themselves; those may carry properties of their own.
    const list: { spec: StepSpec; properties?: Record<string, unknown> }[] = this.builder.steps.map((spec) => ({ spec }))
    for (let i = 0; i < list.length; i++) {
      const { spec, properties: extra } = list[i]!
      if ((halted || this.stopped) && !spec.options.alwaysRun) continue
      let name = stepIdentifier(spec.name)
      for (let n = 2; usedNames.has(name); n++) name = `${stepIdentifier(spec.name).slice(0, 45)}_${n}`
      usedNames.add(name)
      // As in Buildbot, a step is started before doStepIf decides whether it runs.
      const step = await data.steps.addStep(build.buildid, i, name, false, true)
      const ctx = this.stepContext(info, step.stepid, extra, (added, props) => { list.splice(i + 1, 0, ...added.map((s) => ({ spec: s, properties: props }))) })
      let result: Result
      const doIt = spec.options.doStepIf
      if (doIt === false || (typeof doIt === 'function' && !(await doIt(ctx)))) {
        await data.steps.setStepStateString(step.stepid, 'skipped')
        // Shown as skipped unless hideStepIf says otherwise (as in Buildbot).
        const hideSkipped = spec.options.hideStepIf
        await data.steps.finishStep(step.stepid, SKIPPED, (typeof hideSkipped === 'function' ? hideSkipped(SKIPPED) : hideSkipped) || undefined)
        continue
      }
      try {
        result = await spec.run(ctx)
        if (this.stopped && result !== SUCCESS) result = this.stopResult
      } catch (err) {
        if (err instanceof WorkerLostError) {
          result = RETRY
          await ctx.setStateString(err.message)
        } else if (isSecretWithheld(err)) {
          // Not a crash: the step failed for a reason the user should read where they look first.
          result = FAILURE
          await ctx.setStateString(err.message)
          const log = await ctx.addLog('err', 't')
          log.write(`${err.message}\n`)
          await log.finish().catch(() => {}) // a failed write is reported by closeLogs below
          this.deps.log.info({ builder: this.builder.name, step: spec.name, secretName: err.secretName, buildid: this.buildid }, 'untrusted build asked for a secret; withheld')
        } else if (this.stopped) {
          result = this.stopResult
        } else {
          result = EXCEPTION
          const log = await ctx.addLog('err', 't')
          log.write(`${(err as Error).stack ?? String(err)}\n`)
          await log.finish().catch(() => {}) // a failed write is reported by closeLogs below
          this.deps.log.warn({ builder: this.builder.name, step: spec.name, err: (err as Error).message }, 'step raised an exception')
        }
      }
      const lost = await (ctx as StepContextImpl).closeLogs()
      if (lost) {
        // Output that could not be stored is lost: the step cannot be trusted to have passed.
        // A full disk may be freed, so that build is retried rather than failed.
        const full = isStorageFull(lost) || isStorageFull((lost as { cause?: unknown }).cause)
        if (result !== CANCELLED && result !== RETRY) result = full ? RETRY : worstStatus(result, EXCEPTION)
        await data.steps.setStepStateString(step.stepid, this.deps.redact(full ? `retry: disk full (${lost.message})` : lost.message)).catch(() => {})
      }
      const hide = spec.options.hideStepIf
      const hidden = typeof hide === 'function' ? hide(result) : hide
      await data.steps.finishStep(step.stepid, result, hidden || undefined)
      const o = spec.options
      if (result === EXCEPTION || result === RETRY || result === CANCELLED) {
        this.results = worstStatus(this.results, result)
        halted = true
      } else if (result === FAILURE) {
        if (o.flunkOnFailure !== false) this.results = worstStatus(this.results, FAILURE)
        else if (o.warnOnFailure) this.results = worstStatus(this.results, WARNINGS)
        if (o.haltOnFailure) halted = true
      } else if (result === WARNINGS) {
        this.results = worstStatus(this.results, o.flunkOnWarnings ? FAILURE : WARNINGS)
      }
    }
    if (this.stopped) this.results = worstStatus(this.results, this.stopResult)
    const base = this.results === SUCCESS ? 'build successful'
      : this.results === CANCELLED ? (this.stopReason ? `cancelled: ${this.stopReason}` : 'build cancelled')
      : `build ${['successful', 'warnings', 'failed', 'skipped', 'exception', 'retry', 'cancelled'][this.results]}`
    const text = this.summary ? `${base} (${this.summary})` : base
    await data.builds.finishBuild(build.buildid, this.results, this.deps.redact(text))
    return this.results
  }

  /** Steps see the value as set; what is stored (and served) has resolved secrets redacted. */
  private async setProperty(name: string, value: unknown, source: string) {
    this.props[name] = [value, source]
    await this.deps.data.builds.setBuildProperties(this.buildid, { [name]: [redactDeep(value, this.deps.redact), source] })
  }

  private stepContext(info: StepBuildInfo, stepid: number, extra: Record<string, unknown> | undefined, addSteps: (steps: StepSpec[], props?: Record<string, unknown>) => void): StepContext {
    let props = this.props
    if (extra) {
      props = { ...this.props }
      for (const [k, v] of Object.entries(extra)) props[k] = [v, 'Step']
    }
    const setProp = (n: string, v: unknown, s: string): Promise<void> => {
      if (props !== this.props) props[n] = [v, s]
      return this.setProperty(n, v, s)
    }
    return new StepContextImpl(this.deps, this, info, stepid, props, setProp, addSteps)
  }
}

class StepContextImpl implements StepContext {
  private stdio: LogWriter | undefined
  private readonly logs: LogWriter[] = []
  readonly signal: AbortSignal
  readonly worker: WorkerConnection
  readonly log: Logger
  readonly services: ServiceLocator
  private readonly renderCtx: RenderContext

  constructor(private readonly deps: BuildDeps, private readonly b: Build, readonly build: StepBuildInfo, readonly stepid: number,
    private readonly props: Properties, private readonly setProp: (n: string, v: unknown, s: string) => Promise<void>,
    private readonly addSteps: (steps: StepSpec[], props?: Record<string, unknown>) => void) {
    this.signal = b.controller.signal
    this.worker = b.worker
    this.log = deps.log
    this.services = deps.services
    this.renderCtx = {
      getProperty: (n) => this.props[n]?.[0],
      hasProperty: (n) => n in this.props,
      secret: (n, o) => this.secret(n, o),
      source: (_cb, attr) => (build.sourcestamps[0] as unknown as Record<string, unknown> | undefined)?.[attr],
    }
  }

  gitAccess(url: string): Promise<GitAccess | undefined> { return this.deps.gitAccess ? this.deps.gitAccess(url) : Promise.resolve(undefined) }

  /** Trusted builds resolve every secret; untrusted ones only those marked `allowUntrusted`. */
  async secret(name: string, opts?: SecretOptions): Promise<string> {
    if (!this.build.trusted && opts?.allowUntrusted !== true) throw new SecretWithheldError(name)
    return this.deps.secret(name)
  }

  getProperty(name: string) { return this.props[name]?.[0] }
  hasProperty(name: string) { return name in this.props }
  setProperty(name: string, value: unknown, source: string) { return this.setProp(name, value, source) }
  properties() { return { ...this.props } }
  async render<T>(value: unknown): Promise<T> { return (isRenderable(value) ? await value.render(this.renderCtx) : value) as T }
  async renderDeep<T>(value: T): Promise<T> { return (await renderDeep(value, this.renderCtx)) as T }

  async addLog(name: string, type: 's' | 't' | 'h' = 't'): Promise<LogWriter> {
    const log = await this.deps.data.logs.addLog(this.stepid, name, type)
    const w = createLogWriter(this.deps.data, log.logid, type, {
      redact: this.deps.redact,
      onError: (err) => this.log.error({ builder: this.build.builderName, buildid: this.build.buildid, stepid: this.stepid, log: name, err: err.message }, 'log write failed; the step will end in EXCEPTION'),
    })
    this.logs.push(w)
    return w
  }

  /** Completes every log of the step; the first write failure, if any (output was lost). */
  async closeLogs(): Promise<Error | undefined> {
    const settled = await Promise.allSettled(this.logs.map((l) => l.finish()))
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    return failed ? (failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason))) : undefined
  }

  async runCommand(cmd: Parameters<StepContext['runCommand']>[0], opts: Parameters<StepContext['runCommand']>[1] = {}) {
    let log: LogWriter | undefined
    if (opts.log !== false) log = opts.log ?? (this.stdio ??= await this.addLog('stdio', 's'))
    let stdout = ''
    let stderr = ''
    const logfiles = new Map<string, LogWriter>()
    const res = await this.worker.runCommand({ ...cmd, builderName: this.b.builder.dirKey ?? this.build.builderName }, {
      output: (stream, text) => {
        log?.write(text, stream)
        if (stream === 'o' && opts.collectStdout) stdout += text
        else if (stream === 'e' && opts.collectStderr) stderr += text
      },
      logfile: (name, text) => {
        let w = logfiles.get(name)
        if (!w) {
          const pending = this.addLog(name, 's')
          const buffered: string[] = [text]
          logfiles.set(name, { logid: -1, write: (t) => { buffered.push(t) }, finish: async () => {} })
          void pending.then((real) => { for (const t of buffered) real.write(t); logfiles.set(name, real) }, (err: unknown) => {
            // The log could not be created: its output is lost; the step ends in EXCEPTION.
            const lost = new LogWriteError(-1, err)
            this.log.error({ builder: this.build.builderName, buildid: this.build.buildid, stepid: this.stepid, log: name, err: lost.message }, 'log write failed; the step will end in EXCEPTION')
            this.logs.push({ logid: -1, write: () => {}, finish: () => Promise.reject(lost) })
          })
          return
        }
        w.write(text)
      },
    }, this.signal)
    log?.write(`program finished with exit code ${res.rc}\n`, 'h')
    if (res.elapsed != null) log?.write(`elapsedTime=${res.elapsed.toFixed(6)}\n`, 'h')
    return { ...res, stdout, stderr }
  }

  /** State strings are shown everywhere: resolved secrets in them are redacted, as in logs. */
  setStateString(text: string) { return this.deps.data.steps.setStepStateString(this.stepid, this.deps.redact(text)) }
  setBuildSummary(text: string) { this.b.summary = text }
  redact(text: string) { return this.deps.redact(text) }
  addURL(name: string, url: string) { return this.deps.data.steps.addStepURL(this.stepid, this.deps.redact(name), this.deps.redact(url)) }
  trigger(requests: TriggerRequest[]) { return this.deps.trigger(this.build, requests, this.props) }
  waitForBuildsets(bsids: number[], onComplete?: (bsid: number, results: Result) => void) { return this.deps.waitForBuildsets(bsids, onComplete) }
  cancelBuildsets(bsids: number[], reason: string) { return this.deps.cancelBuildsets(bsids, reason) }
  addStepsAfterCurrentStep(steps: StepSpec[], opts: { properties?: Record<string, unknown> } = {}) { this.addSteps(steps, opts.properties) }
}
