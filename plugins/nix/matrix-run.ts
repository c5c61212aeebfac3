import { CANCELLED, EXCEPTION, FAILURE, SKIPPED, SUCCESS, WARNINGS, worstStatus, type Result, type StepContext } from '../../core/index.ts'
import { createJobGraph } from './eval/job-graph.ts'
import type { NixJob } from './eval/nix-evaluator.ts'
import { jobOutputs, type JobState, type StoredJob } from './jobs-store.ts'
import type { NixRuntime, RuntimeSlot } from './nix-runtime.ts'
import type { KeepPolicy, OutputKeeper } from './output-keeper.ts'
import type { ResolvedProject } from './options.ts'
import type { NixEvalInfo, NixHooks } from './nix-hooks.ts'
import { createAttributeReport } from './attribute-report.ts'
import { childProperties } from './child-properties.ts'
import { recordDefaultEval } from './default-branch.ts'
import { evaluatedJobRow } from './job-row.ts'

/**
 * What a build matrix needs besides its evaluation: the started runtime (jobs table, the master's
 * trigger and state), the hooks it reports attributes to, what it builds and the output keeper
 * for attributes already built.
 */
export interface MatrixHop {
  runtime: RuntimeSlot
  hooks: NixHooks
  buildSystems: readonly string[]
  cacheFailedBuilds: boolean
  outputs: OutputKeeper
}

/** What the evaluation hands its matrix. */
export interface MatrixRunInfo {
  project: ResolvedProject
  /** The eval build's step context (trigger, wait, cancel act for the eval build). */
  ctx: StepContext
  evalKey: string
  branch: string
  /** Push to the default branch (its results are what other branches compare with). */
  isDefault: boolean
  /** What is kept of the outputs (default branch, a branch rule), undefined: nothing. */
  keep?: KeepPolicy
  /** `git+file:<name>#checks`: the prefix of each child's virtual builder name. */
  refPrefix: string
  /** A rebuild asked for by a user: cached failures are forgotten and built again. */
  isRebuild: boolean
  /** What the Nix hooks' events say about this evaluation. */
  event: NixEvalInfo
  /** The checkout on the evaluation's worker, the flake directory in it and the attribute evaluated. */
  checkoutDir: string
  flakeDir: string
  attribute: string
}

/** Evaluations of the same project and key replace each other (`refs/pull/N/*` → `refs/pull/N`). */
export function branchKey(branch: string): string {
  const m = /^(refs\/(?:pull|merge-requests)\/\d+)\/[^/]+$/.exec(branch)
  return m ? m[1]! : branch
}

/** Children triggered per transaction. */
const TRIGGER_SLICE = 50

type ChildKind = 'build' | 'failed-eval' | 'dependency-failed' | 'cached-failure'
interface Pending { job: StoredJob; kind: ChildKind; scheduler: string; props: Record<string, unknown>; state: JobState; reason: string | null }

/**
 * The build matrix of one evaluation. Jobs are added while the evaluation streams; each job
 * whose in-matrix dependencies are done is triggered at once as its own child build, failures
 * turn their waiting dependents into dependency-failed children. `done` resolves with the worst
 * child result when the evaluation is over and every child has finished.
 */
export function createMatrixRun(hop: MatrixHop, info: MatrixRunInfo) {
  const runtime = hop.runtime.get()
  const { rt, jobs } = runtime
  const { ctx, project } = info
  const buildid = ctx.build.buildid
  const slug = project.slug
  const graph = createJobGraph()
  const byAttr = new Map<string, StoredJob>()
  const knownDrvs = new Set<string>()
  // Jobs needing derivations not (yet) seen in this evaluation: added to the graph once all of
  // them are, or when the evaluation ends, so a dependency evaluated later is still waited for.
  const held = new Map<string, NixJob>()
  const byBsid = new Map<number, { job: StoredJob; kind: ChildKind }>()
  // Attributes skipped as already built (their post-build steps may run in the evaluation build).
  const skipped: StoredJob[] = []
  const openBsids = new Set<number>()
  const systems = new Set(hop.buildSystems)
  let result: Result = SUCCESS
  // The first update of the matrix that failed (a job not stored, a completion not recorded):
  // the matrix can no longer tell the truth, so it ends at once in EXCEPTION, saying why.
  let failure: Error | undefined
  let evalDone = false
  let cancelled = false
  // A child stopped on its own (not the evaluation) counts only when nothing failed:
  // three failures and one stopped check are a failed evaluation, not a cancelled one.
  let childCancelled = false
  let chain: Promise<void> = Promise.resolve()
  // Children finished and not recorded yet: recorded together by the next serial update.
  const completions: [number, Result][] = []
  let resolveDone!: (r: Result) => void
  const done = new Promise<Result>((r) => { resolveDone = r })

  const serial = (fn: () => Promise<void>): Promise<void> => {
    chain = chain.then(() => { if (!failure) return fn() }).catch(fatal)
    return chain
  }
  function fatal(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err))
    rt.log.error({ buildid, err: e.stack }, 'nix build matrix update failed; the matrix ends in EXCEPTION')
    if (failure) return
    failure = e
    cancelled = true
    evalDone = true
    held.clear()
    result = worstStatus(result, EXCEPTION)
    const open = [...openBsids]
    openBsids.clear()
    jobs.release(buildid)
    resolveDone(result)
    if (open.length) {
      ctx.cancelBuildsets(open, `the build matrix failed: ${e.message}`)
        .catch((err2: Error) => rt.log.error({ buildid, err: err2.message }, 'cancelling the children of a failed build matrix failed'))
    }
  }
  const counts = (): Map<string, number> => {
    const m = new Map<string, number>()
    for (const j of byAttr.values()) m.set(j.state, (m.get(j.state) ?? 0) + 1)
    return m
  }
  // The row objects are the store's live rows: updates by child builds show here too.
  const setState = async (job: StoredJob, patch: Partial<StoredJob>): Promise<void> => { await jobs.update(job.jobid, patch) }
  const attributeFinished = createAttributeReport(runtime, hop.hooks, project.name, info.event)

  async function trigger(items: Pending[]): Promise<void> {
    if (!items.length) return
    if (cancelled) {
      await Promise.all(items.map((it) => setState(it.job, { state: 'cancelled', reason: 'the evaluation was stopped', complete_at: Date.now() })))
      return
    }
    // In slices: one transaction per slice, so the writes of running children (a failure first
    // of all) are not queued behind hundreds of new requests.
    const added: Awaited<ReturnType<StepContext['trigger']>> = []
    for (let i = 0; i < items.length; i += TRIGGER_SLICE) {
      added.push(...await ctx.trigger(items.slice(i, i + TRIGGER_SLICE).map((it) => ({ scheduler: it.scheduler, properties: { ...childProperties(it.job, info, buildid), ...it.props }, reason: `${it.kind === 'build' ? 'nix-build' : it.kind} ${it.job.attr}` }))))
    }
    const now = Date.now()
    const bsids: number[] = []
    // One transaction for the whole batch (the store joins updates of the same turn).
    await Promise.all(added.map((a, i) => {
      const it = items[i]!
      byBsid.set(a.bsid, { job: it.job, kind: it.kind })
      openBsids.add(a.bsid)
      bsids.push(a.bsid)
      return setState(it.job, { state: it.state, reason: it.reason, queued_at: now, buildrequestid: Object.values(a.brids)[0] ?? null })
    }))
    ctx.waitForBuildsets(bsids, (bsid, r) => {
      // Children finishing together are recorded together.
      completions.push([bsid, r])
      if (completions.length === 1) void serial(() => onCompleted(completions.splice(0)))
    }).catch(fatal)
  }

  async function registerSkipped(job: StoredJob): Promise<void> {
    if (!info.keep || !job.out_path) return
    try {
      await hop.outputs.keep(project, job.attr, jobOutputs(job), info.keep)
    } catch (err) { rt.log.warn({ attr: job.attr, err: (err as Error).message }, 'registering the GC root of an already built attribute failed') }
  }

  /** Starts every job that became ready, repeatedly (skipped jobs release their dependents at once). */
  async function runReady(): Promise<void> {
    for (;;) {
      const { runnable, dependencyFailed } = graph.ready()
      if (!runnable.length && !dependencyFailed.length) return
      const items: Pending[] = []
      for (const attr of runnable) {
        const job = byAttr.get(attr)!
        if (job.cache_status === 'local') {
          await setState(job, { state: 'skipped', reason: 'already built', results: SKIPPED, complete_at: Date.now() })
          graph.markDone(attr, true)
          await registerSkipped(job)
          skipped.push(job)
          await attributeFinished(job)
          continue
        }
        if (info.isRebuild && hop.cacheFailedBuilds && job.drv_path) await jobs.forgetFailedBuild(job.drv_path)
        const cached = hop.cacheFailedBuilds && !info.isRebuild && job.drv_path ? await jobs.failedBuild(job.drv_path) : undefined
        if (cached) {
          items.push({ job, kind: 'cached-failure', scheduler: `${slug}-nix-cached-failure`, props: { first_failure_url: cached.first_failure_url }, state: 'cached-failure', reason: `failed before: ${cached.first_failure_url}` })
          await jobs.update(job.jobid, { first_failure_url: cached.first_failure_url })
          job.first_failure_url = cached.first_failure_url
          graph.markDone(attr, false)
          continue
        }
        items.push({ job, kind: 'build', scheduler: `${slug}-nix-build`, props: {}, state: 'pending', reason: null })
      }
      for (const d of dependencyFailed) {
        const job = byAttr.get(d.attr)!
        items.push({ job, kind: 'dependency-failed', scheduler: `${slug}-nix-dependency-failed`, props: { dependency_attr: d.dependency }, state: 'dependency-failed', reason: `depends on ${d.dependency}, which failed` })
      }
      await trigger(items)
    }
  }

  async function onCompleted(done: [number, Result][]): Promise<void> {
    const finished: { job: StoredJob; kind: ChildKind; r: Result }[] = []
    for (const [bsid, r] of done) {
      const entry = byBsid.get(bsid)
      if (entry && openBsids.delete(bsid)) finished.push({ ...entry, r })
    }
    await Promise.all(finished.map(({ job, kind, r }) => {
      const ok = r === SUCCESS || r === WARNINGS
      let st: JobState = job.state
      if (r === CANCELLED) st = 'cancelled'
      else if (kind === 'build') st = ok ? 'success' : 'failed'
      const patch: Partial<StoredJob> = { state: st, results: r, complete_at: Date.now() }
      if (kind === 'build' && !ok && r !== CANCELLED) patch.reason = job.reason ?? 'nix build failed'
      return setState(job, patch)
    }))
    for (const { job, kind, r } of finished) {
      if (r === CANCELLED) childCancelled = true
      else result = worstStatus(result, r)
      if (kind === 'build') {
        graph.markDone(job.attr, r === SUCCESS || r === WARNINGS)
        if (r === FAILURE && hop.cacheFailedBuilds && job.drv_path && job.child_buildid) {
          const url = `${rt.buildbotURL}#/builders/${job.child_builderid}/builds/${job.child_number}`
          await jobs.recordFailedBuild(job.drv_path, url, job.child_buildid)
        }
      }
      await attributeFinished(job)
    }
    await runReady()
    checkDone()
  }

  function releaseHeld(all: boolean): void {
    for (const [attr, j] of held) {
      const needed = [...(j.neededBuilds ?? []), ...(j.neededSubstitutes ?? [])]
      if (!all && !needed.every((d) => knownDrvs.has(d))) continue
      held.delete(attr)
      graph.add({ attr, drvPath: j.drvPath, neededBuilds: j.neededBuilds, neededSubstitutes: j.neededSubstitutes })
    }
  }

  function checkDone(): void {
    if (!evalDone || openBsids.size) return
    if (graph.pending && !cancelled) return
    jobs.release(buildid)
    resolveDone(childCancelled && (result === SUCCESS || result === WARNINGS || result === SKIPPED) ? CANCELLED : result)
  }

  // Aborts the evaluation when a newer evaluation of the same branch replaces this one.
  const superseded = new AbortController()

  return {
    done,
    info,
    project: project.name,
    branchKey: branchKey(info.branch),
    buildid,
    /** Aborted when a newer evaluation of the same branch takes over. */
    supersededSignal: superseded.signal,
    /** Stops this evaluation and its children in favour of `by`. */
    supersede(by: number): Promise<void> {
      const reason = `superseded by a newer evaluation of the same branch (build ${by})`
      superseded.abort(new Error(reason))
      return this.cancel(reason)
    },
    get counts() { return counts() },
    get result() { return result },
    /** Why the matrix failed on its own (a job or a result that could not be stored), if it did. */
    get failure(): Error | undefined { return failure },
    /** Adds evaluated jobs (streamed or reused) and starts what is ready. */
    addJobs(batch: NixJob[]): Promise<void> {
      return serial(async () => {
        const stored = await jobs.insert(batch.map((j) => evaluatedJobRow(j, buildid, info.evalKey, systems)))
        const failedEval: Pending[] = []
        stored.forEach((job, i) => {
          const j = batch[i]!
          byAttr.set(job.attr, job)
          if (j.drvPath) knownDrvs.add(j.drvPath)
          if (job.state === 'eval-failed') {
            failedEval.push({ job, kind: 'failed-eval', scheduler: `${slug}-nix-failed-eval`, props: { error: j.error }, state: 'eval-failed', reason: job.reason })
          } else if (job.state === 'pending' && !graph.has(job.attr)) {
            held.set(job.attr, j)
          }
        })
        releaseHeld(false)
        await trigger(failedEval)
        await runReady()
      })
    },
    /** The evaluation is over (all jobs added). */
    evalFinished(): Promise<void> {
      return serial(async () => {
        evalDone = true
        releaseHeld(true)
        await runReady()
        checkDone()
      })
    },
    /** Cancels children not finished yet; jobs not triggered become `cancelled`. */
    cancel(reason: string): Promise<void> {
      return serial(async () => {
        cancelled = true
        evalDone = true
        held.clear()
        await ctx.cancelBuildsets([...openBsids], reason)
        await Promise.all([...byAttr.values()].filter((job) => job.state === 'pending' && job.buildrequestid == null)
          .map((job) => setState(job, { state: 'cancelled', reason, complete_at: Date.now() })))
        result = worstStatus(result, CANCELLED)
        checkDone()
      })
    },
    attrs(): string[] { return [...byAttr.keys()] },
    stateOf(attr: string): JobState | undefined { return byAttr.get(attr)?.state },
    /** Attributes skipped because their outputs were already built. */
    skipped(): readonly StoredJob[] { return skipped },
    /** Remembers this evaluation as the project's latest complete one on the default branch. */
    async recordDefaultBranch(): Promise<void> {
      if (!info.isDefault || cancelled) return
      await recordDefaultEval(runtime, project.name, buildid)
    },
  }
}

export type MatrixRun = ReturnType<typeof createMatrixRun>
