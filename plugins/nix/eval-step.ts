import { createHash } from 'node:crypto'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { CANCELLED, EXCEPTION, FAILURE, SUCCESS, WARNINGS, steps, type LogWriter, type Result, type StepContext, type StepSpec } from '../../core/index.ts'
import type { NixEvalFinished, NixEvalInfo } from './nix-hooks.ts'
import { conditionalStep } from './post-build-steps.ts'
import { EvalError, type NixJob } from './eval/nix-evaluator.ts'
import { readRepoConfig } from './repo-config/repo-config.ts'
import { drvsExist, validPaths } from './store/store-validity.ts'
import { createMatrixRun, type MatrixHop, type MatrixRun } from './matrix-run.ts'
import type { RuntimeSlot } from './nix-runtime.ts'
import type { FairSemaphore } from './fair-semaphore.ts'
import type { NixHooks } from './nix-hooks.ts'
import type { OutputKeeper } from './output-keeper.ts'
import type { ResolvedProject } from './options.ts'
import { jobOutputs, type StoredJob } from './jobs-store.ts'

/**
 * What an evaluation needs: the started runtime, the evaluation limits and slots, the hooks it
 * reports to, the running matrices it owns (by eval build id: the matrix step finds its own, a
 * newer push supersedes an older one), the output keeper (stale roots) and its next hop, the matrix.
 */
export interface EvaluationHop {
  runtime: RuntimeSlot
  hooks: NixHooks
  limits: { workers: number; maxMemoryMiB: number; timeoutSec: number }
  evalSem: FairSemaphore
  runs: Map<number, MatrixRun>
  outputs: OutputKeeper
  matrix: MatrixHop
  /** Post-build steps also run for attributes skipped as already built (in the evaluation build). */
  skippedPostBuildSteps: readonly StepSpec[]
}

function git(cwd: string, args: string[]): Promise<string | undefined> {
  return new Promise((res) => execFile('git', args, { cwd, timeout: 30_000 }, (err, out) => res(err ? undefined : out.trim())))
}

/** `git+file:<name>#<attribute>` style prefix of the children's virtual builder names. */
export function refPrefix(project: ResolvedProject, attribute: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(project.url)
  const scheme = m ? m[1]!.toLowerCase() : /^[^/]+@[^/]+:/.test(project.url) ? 'ssh' : 'file'
  return `git+${scheme}:${project.name}#${attribute}`
}

/** Whether this build is a pull request (evaluated on the merge, never registers roots). */
export function isPullRequest(ctx: StepContext): boolean {
  return ctx.hasProperty('base_sha') && ctx.hasProperty('head_sha') || String(ctx.getProperty('branch') ?? '').startsWith('refs/pull/')
}

/** The part of every Nix event that describes this evaluation build. */
function evalInfo(ctx: StepContext, project: ResolvedProject): NixEvalInfo {
  const branch = String(ctx.getProperty('branch') ?? '')
  const pr = isPullRequest(ctx)
  // A pull request's statuses go on its head (the evaluation ran on the head merged with the base).
  const rev = (pr ? ctx.getProperty('head_sha') : undefined) ?? ctx.getProperty('got_revision') ?? ctx.getProperty('revision')
  return {
    project: project.name, repository: project.url, buildid: ctx.build.buildid, url: ctx.build.url, branch,
    revision: rev == null || rev === '' ? null : String(rev),
    isDefaultBranch: !pr && branch === project.defaultBranch, isPullRequest: pr, trusted: ctx.build.trusted,
  }
}

/** A master stopping re-queues the build (RETRY): its children are left for the next run. */
export function isShutdown(ctx: StepContext): boolean {
  return (ctx.signal.reason as Error | undefined)?.message === 'master shutting down'
}

/** Jobs of an earlier evaluation of the same tree, when all their .drv files still exist. */
/** The jobs of an earlier evaluation with the same key whose .drv files are all still present. */
async function storedEvaluation(hop: EvaluationHop, evalKey: string, buildid: number): Promise<{ stored: StoredJob[]; from: number } | undefined> {
  const stored = await hop.runtime.get().jobs.latestWithKey(evalKey, buildid)
  if (!stored.length) return undefined
  const drvs = stored.map((j) => j.drv_path).filter((p): p is string => !!p)
  if (drvs.length && !(await drvsExist(drvs))) return undefined
  return { stored, from: stored[0]!.buildid }
}

/** Stored jobs as the evaluator would give them now: `local` when every output is in the store. */
async function reusableJobs(stored: StoredJob[]): Promise<NixJob[]> {
  const valid = await validPaths(stored.flatMap((j) => Object.values(jobOutputs(j))))
  const toJob = (j: StoredJob): NixJob => {
    const attrPath = j.attr.split('.')
    if (j.state === 'eval-failed') return { attr: j.attr, attrPath, error: j.reason ?? 'failed to evaluate' }
    const outputs = jobOutputs(j)
    const built = Object.values(outputs).length > 0 && Object.values(outputs).every((p) => valid.has(p))
    return {
      attr: j.attr, attrPath, system: j.system, drvPath: j.drv_path ?? undefined, outputs,
      cacheStatus: built ? 'local' : 'notBuilt', neededBuilds: JSON.parse(j.needed ?? '[]') as string[],
    }
  }
  return stored.map(toJob)
}

// How long a new run of an evaluation waits for the stopped children of the run it replaces
// (one on another master that died keeps its requests until that master is taken over).
const ORPHANS_WAIT_MS = 60_000

/** Resolves when `p` settles, the signal aborts or `ms` pass, whichever comes first. */
async function endedWithin(p: Promise<unknown>, signal: AbortSignal, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  try {
    await Promise.race([p, new Promise<void>((res) => {
      timer = setTimeout(res, ms)
      onAbort = res
      signal.addEventListener('abort', onAbort, { once: true })
    })])
  } finally {
    clearTimeout(timer)
    if (onAbort) signal.removeEventListener('abort', onAbort)
  }
}

/**
 * Reads buildbot-nix.toml, evaluates the flake (or reuses an earlier evaluation of the same
 * tree) and feeds jobs into the build matrix as they arrive. The matrix goes on in the next step.
 */
export function evalStep(hop: EvaluationHop, project: ResolvedProject): StepSpec {
  return steps.custom({
    name: 'evaluate flake', type: 'nix-eval', haltOnFailure: true,
    async run(ctx) {
      const { rt, jobs, nix } = hop.runtime.get()
      const buildid = ctx.build.buildid
      const event = evalInfo(ctx, project)
      const finished = (results: Result, extra: Partial<NixEvalFinished> = {}): Promise<void> =>
        hop.hooks.evalFinished.call({ ...event, results, attributes: 0, failedToEvaluate: 0, warnings: 0, reused: false, ...extra })
      await hop.hooks.evalStarted.call(event)
      // `reported`: the result evalFinished tells; null when interrupted by a master stopping (the
      // evaluation runs again after the restart, so it has not finished).
      const fail = async (msg: string, reported: Result | null = FAILURE): Promise<typeof FAILURE> => {
        const log = await ctx.addLog('nix_error')
        log.write(msg + '\n')
        await ctx.setStateString(msg.split('\n')[0]!.slice(0, 200))
        if (reported != null) await finished(reported, { error: msg, attributes: hop.runs.get(buildid)?.attrs().length ?? 0 })
        return FAILURE
      }
      await ctx.setProperty('project', project.name, 'nix')
      if (!nix.ok) return fail(nix.message)
      // `builddir` names this build's directory (concurrent builds of a builder get their own).
      const checkout = join(String(ctx.getProperty('builddir') ?? ctx.worker.builderDir(ctx.build.builderName)), 'build')
      if (!existsSync(join(checkout, '.git'))) return fail(`the checkout ${checkout} is not on this machine: evaluation runs on the master, so the nix-eval builder needs a local worker`)
      const branch = event.branch
      const isDefault = event.isDefaultBranch
      const keep = hop.outputs.policy(project, branch, event.isPullRequest)
      const { config, warnings: cfgWarnings } = await readRepoConfig({ checkoutRoot: checkout, isDefaultBranch: isDefault })
      let warnLog: LogWriter | undefined
      let warnCount = 0
      const warn = async (text: string): Promise<void> => { warnLog ??= await ctx.addLog('warnings'); warnLog.write(text.endsWith('\n') ? text : text + '\n') }
      for (const w of cfgWarnings) await warn(w.message)
      await ctx.setProperty('nix_attribute', config.attribute, 'nix')
      const flakeDir = resolve(checkout, config.flakeDir)
      const tree = await git(checkout, ['rev-parse', 'HEAD^{tree}']) ?? ''
      const lock = await readFile(resolve(flakeDir, config.lockFile), 'utf8').catch(() => '')
      const dirty = await git(checkout, ['status', '--porcelain', '--untracked-files=no']) ?? 'unknown'
      const evalKey = createHash('sha256').update(JSON.stringify([tree, dirty, createHash('sha256').update(lock).digest('hex'), config.flakeDir, config.attribute, config.lockFile, nix.evaluator.name])).digest('hex')
      const bs = await rt.data.buildsets.getBuildset(ctx.build.buildsetid)
      const isRebuild = bs?.rebuilt_buildid != null || ctx.getProperty('reason') === 'rebuild'
      const run: MatrixRun = createMatrixRun(hop.matrix, {
        project, ctx, evalKey, branch, isDefault, keep, isRebuild, refPrefix: refPrefix(project, config.attribute), event,
        checkoutDir: checkout, flakeDir, attribute: config.attribute,
      })
      hop.runs.set(buildid, run)
      // A newer push to the same branch (or pull request) replaces older evaluations still running.
      for (const other of hop.runs.values()) {
        if (other !== run && other.project === run.project && other.branchKey === run.branchKey && other.buildid < buildid) void other.supersede(buildid)
      }

      const reuse = await storedEvaluation(hop, evalKey, buildid)
      if (reuse) {
        // An earlier run of this evaluation (e.g. interrupted by a restart) may have children still
        // queued or running. They end before the outputs are looked at: a child finishing after
        // that look would have its attribute built a second time.
        const orphans = await rt.data.buildsets.incompleteChildBuildsets(reuse.from)
        if (orphans.length) {
          await ctx.cancelBuildsets(orphans, 'superseded by a new run of the same evaluation')
          await endedWithin(ctx.waitForBuildsets(orphans), ctx.signal, ORPHANS_WAIT_MS)
        }
        const log = await ctx.addLog('stdio', 's')
        log.write(`reusing the evaluation of build ${reuse.from} (same tree, lock file and attribute; all .drv files present)\n`, 'h')
        await run.addJobs(await reusableJobs(reuse.stored))
      } else {
        const stdio = await ctx.addLog('stdio', 's')
        await ctx.setStateString('waiting for an evaluation slot')
        let release: (() => void) | undefined
        try { release = await hop.evalSem.acquire(project.slug, AbortSignal.any([ctx.signal, run.supersededSignal])) } catch {
          if (!isShutdown(ctx)) await run.cancel('the evaluation build was stopped')
          hop.runs.delete(buildid)
          if (run.supersededSignal.aborted) return fail((run.supersededSignal.reason as Error).message, CANCELLED)
          return fail('the evaluation was stopped', isShutdown(ctx) ? null : CANCELLED)
        }
        const rootsDir = join(rt.basedir, 'eval-roots', project.slug, String(buildid))
        try {
          await mkdir(rootsDir, { recursive: true })
          await ctx.setStateString(`evaluating ${config.attribute}`)
          let buf: NixJob[] = []
          let timer: NodeJS.Timeout | undefined
          const flush = (): void => { if (timer) clearTimeout(timer); timer = undefined; if (buf.length) { void run.addJobs(buf); buf = [] } }
          const iter = nix.evaluator.evaluate({
            flakeDir, attribute: config.attribute, lockFile: config.lockFile, ...hop.limits, gcRootsDir: rootsDir,
            signal: AbortSignal.any([ctx.signal, run.supersededSignal]),
            onWarning: (text) => {
              // Store lock contention with concurrent builds is retried by nix; not the flake's warning.
              if (/SQLite database .* is busy/.test(text)) return
              warnCount++
              warn(text).catch((err: Error) => rt.log.warn({ buildid, err: err.message }, 'writing an evaluation warning failed'))
            },
            onLog: (line) => stdio.write(line + '\n', 'e'),
          })
          for await (const job of iter) {
            buf.push(job)
            timer ??= setTimeout(flush, 2)
          }
          flush()
        } catch (err) {
          const msg = err instanceof EvalError ? err.message : `evaluation failed: ${(err as Error).stack}`
          hop.runs.delete(buildid)
          if (isShutdown(ctx)) return fail('interrupted by a master restart', null)
          if (run.supersededSignal.aborted) {
            await run.done
            await ctx.setStateString((run.supersededSignal.reason as Error).message)
            await finished(CANCELLED, { error: (run.supersededSignal.reason as Error).message })
            return CANCELLED
          }
          await run.cancel(ctx.signal.aborted ? 'the evaluation build was stopped' : 'the evaluation failed')
          await run.done
          return fail(msg, ctx.signal.aborted ? CANCELLED : FAILURE)
        } finally {
          release?.()
          await rm(rootsDir, { recursive: true, force: true }).catch(() => undefined)
        }
      }
      await run.evalFinished()
      // Jobs that could not be stored are lost: this evaluation is incomplete and must not be reused.
      if (run.failure) return fail(`storing the evaluation failed: ${run.failure.message}`)
      await jobs.recordEval(buildid, evalKey)
      if (keep) {
        const removed = await hop.outputs.removeStale(project, run.attrs(), keep)
        if (removed.length) (await ctx.addLog('gcroots')).write(`removed GC roots of attributes no longer evaluated: ${removed.join(', ')}\n`)
      }
      const n = run.attrs().length
      await ctx.setStateString(`evaluated ${n} attribute${n === 1 ? '' : 's'}${warnCount ? ` (${warnCount} warning${warnCount === 1 ? '' : 's'})` : ''}`)
      const result = warnCount || cfgWarnings.length ? WARNINGS : SUCCESS
      const failedToEvaluate = run.attrs().filter((a) => run.stateOf(a) === 'eval-failed').length
      await finished(result, { attributes: n, failedToEvaluate, warnings: warnCount, reused: !!reuse })
      return result
    },
  })
}

/** Waits for the build matrix of the evaluation; the result is the worst child's. */
export function matrixStep(hop: EvaluationHop): StepSpec {
  return steps.custom({
    // Runs even when the build was stopped right after the evaluation, to cancel the children.
    name: 'build flake', type: 'nix-build-matrix', alwaysRun: true,
    async run(ctx) {
      const run = hop.runs.get(ctx.build.buildid)
      if (!run) { await ctx.setStateString('nothing to build'); return SUCCESS }
      const stopped = new Promise<void>((res) => {
        if (ctx.signal.aborted) res()
        else ctx.signal.addEventListener('abort', () => res(), { once: true })
      })
      const timer = setInterval(() => { ctx.setStateString(summary(run)).catch((err: Error) => ctx.log.warn({ buildid: ctx.build.buildid, err: err.message }, 'updating the matrix summary failed')) }, 2000)
      try {
        const first = await Promise.race([run.done, stopped.then(() => 'stopped' as const)])
        if (first === 'stopped') {
          // A master shutting down re-queues this build; its next run reuses the jobs and replaces the children.
          if (isShutdown(ctx)) {
            // The "2 building, 1 pending" of a moment ago is not true any more.
            await ctx.setStateString('interrupted by a master stop; the evaluation runs again').catch(() => {})
            return CANCELLED
          }
          await run.cancel('the evaluation build was stopped')
        }
        const result = await run.done
        if (run.failure) {
          await ctx.setStateString(`the build matrix failed: ${run.failure.message}`.slice(0, 200))
          return EXCEPTION
        }
        await ctx.setStateString(summary(run))
        ctx.setBuildSummary(summary(run))
        await afterMatrix(hop, ctx, run, result)
        return result
      } finally {
        clearInterval(timer)
        hop.runs.delete(ctx.build.buildid)
      }
    },
  })
}

/**
 * The matrix is over: remembers a default-branch evaluation, adds the post-build steps of
 * attributes skipped as already built, and calls `matrixFinished`, whose handlers may add steps.
 */
async function afterMatrix(hop: EvaluationHop, ctx: StepContext, run: MatrixRun, result: Result): Promise<void> {
  const { rt } = hop.runtime.get()
  if (result !== CANCELLED) await run.recordDefaultBranch().catch((err: Error) => rt.log.warn({ err: err.message }, 'remembering the default branch evaluation failed'))
  const groups: { steps: StepSpec[]; properties?: Record<string, unknown> }[] = []
  if (result !== CANCELLED && hop.skippedPostBuildSteps.length) {
    for (const job of run.skipped()) {
      groups.push({
        steps: hop.skippedPostBuildSteps.map((s) => conditionalStep(s, undefined, ` ${job.attr}`)),
        properties: { attr: job.attr, system: job.system, drv_path: job.drv_path, out_path: job.out_path, cacheStatus: 'local', nix_skipped: true },
      })
    }
  }
  const added: StepSpec[] = []
  await hop.hooks.matrixFinished.call({
    ...run.info.event, results: result, counts: Object.fromEntries(run.counts), checkoutDir: run.info.checkoutDir,
    flakeDir: run.info.flakeDir, attribute: run.info.attribute, addSteps: (steps) => { added.push(...steps) },
  })
  if (added.length) groups.push({ steps: added })
  // Each call inserts right after this step: add the last group first to keep their order.
  for (const g of groups.reverse()) ctx.addStepsAfterCurrentStep(g.steps, { properties: g.properties })
}

/** Failures first, then what is still running, then the rest: `3 failed, 1 cancelled, 2 success`. */
const SUMMARY_ORDER = ['failed', 'eval-failed', 'dependency-failed', 'cached-failure', 'cancelled', 'building', 'pending', 'success', 'skipped', 'unsupported-system']

function summary(run: MatrixRun): string {
  const rank = (s: string) => { const i = SUMMARY_ORDER.indexOf(s); return i === -1 ? SUMMARY_ORDER.length : i }
  const parts = [...run.counts].filter(([, n]) => n > 0).sort(([a], [b]) => rank(a) - rank(b)).map(([s, n]) => `${n} ${s}`)
  return parts.length ? parts.join(', ') : 'nothing to build'
}
