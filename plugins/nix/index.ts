import { cpus } from 'node:os'
import { createKey, definePlugin, type PluginRuntime, type ProjectEntity, type StepSpec } from '../../core/index.ts'
import { createBuiltinEvaluator } from './eval/builtin-evaluator.ts'
import { createNixEvalJobsEvaluator } from './eval/nix-eval-jobs.ts'
import { nixEvalJobsAvailable, probeNixVersion } from './eval/nix-version.ts'
import { createFairSemaphore } from './fair-semaphore.ts'
import { createBuildBatcher } from './build-batcher.ts'
import { createStoreServe } from './store/store-serve.ts'
import { createOutputKeeper } from './output-keeper.ts'
import { createJobsStore, publicJob, type NixTables } from './jobs-store.ts'
import { nixMigrations } from './migrations.ts'
import { parseBuildIds, readGrid } from './history.ts'
import { readBuiltBy } from './built-by.ts'
import { nixOptionsSchema, resolveNixOptions } from './options.ts'
import { NIX_MISSING, createRuntimeSlot, type NixAvailability } from './nix-runtime.ts'
import { fromRegistry, projectParts, registrySpec, type ProjectHops } from './project.ts'
import type { ChildHop } from './child-steps.ts'
import type { EvaluationHop } from './eval-step.ts'
import type { MatrixHop } from './matrix-run.ts'
import type { ResolvedProject } from './options.ts'
import { createNixHooks, type NixEffectsEvent, type NixHooks } from './nix-hooks.ts'
import { conditionalStep, type PostBuildStepOptions } from './post-build-steps.ts'
import { reportNixStatuses, type NixStatusOptions, type StatusSink } from './statuses.ts'
import { registerNixMetrics } from './nix-metrics.ts'

export type { NixPluginOptions, NixProjectOptions } from './options.ts'
export type { NixJobRow, JobState } from './jobs-store.ts'
export { ensureDemoFlake } from './demo-flake.ts'
export type { NixHooks, NixEvalInfo, NixEvalFinished, NixAttributeFinished, NixMatrixFinished, NixEffectsEvent, NixPreviousResult, NixResultChange } from './nix-hooks.ts'
export type { PostBuildStepOptions, PostBuildCondition } from './post-build-steps.ts'
export type { NixStatusOptions, StatusSink } from './statuses.ts'
export { statusState } from './statuses.ts'

/** What the nix plugin offers other plugins (forges, binary caches, effects). */
export interface NixApi {
  /**
   * Adds a step run in every `nix-build` child after a successful build (properties `attr`,
   * `out_path`, `drv_path`, `system`, …), when `when` holds (branch globs, trusted builds only);
   * with `alsoForSkipped`, also for attributes skipped as already built.
   */
  addPostBuildStep(step: StepSpec, opts?: PostBuildStepOptions): void
  /** The plugin's events: evaluation started/finished, each attribute's result, matrix finished, effects. */
  readonly hooks: NixHooks
  /**
   * Reports buildbot-nix's commit statuses (`buildbot/nix-eval`, `buildbot/nix-build`, failed
   * `buildbot/nix-build/<attr>`, `buildbot/nix-effects`) through a status reporter. Returns a
   * function that stops it.
   */
  reportStatuses(sink: StatusSink, opts?: NixStatusOptions): () => void
  /** For the effects plugin: reports an effects run (reaches `hooks.effects` and the `nix-effects` status). */
  emitEffects(ev: NixEffectsEvent): Promise<void>
}

export const NixKey = createKey<NixApi>('nix')

async function probe(): Promise<NixAvailability> {
  try {
    const version = await probeNixVersion()
    const evaluator = nixEvalJobsAvailable() ? createNixEvalJobsEvaluator() : createBuiltinEvaluator({ nixVersion: version })
    return { ok: true, version, evaluator }
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    return { ok: false, message: e.code === 'ENOENT' ? NIX_MISSING : `'nix --version' failed: ${e.message}` }
  }
}

/**
 * Registers the configured projects, then keeps one runtime group (builders, schedulers, poller)
 * per registered project: a project another plugin adds gets built, one removed stops.
 */
async function followRegistry(rt: PluginRuntime, hops: ProjectHops, projects: Map<string, ResolvedProject>, configured: ResolvedProject[]): Promise<void> {
  const apply = async (e: ProjectEntity): Promise<void> => {
    const p = fromRegistry(e)
    if (!p) { await remove(e.name); return }
    projects.set(p.name, p)
    await rt.parts.set(p.name, projectParts(hops, p))
  }
  const remove = async (name: string): Promise<void> => {
    projects.delete(name)
    hops.buildStepLists.delete(name)
    await rt.parts.delete(name)
  }
  await rt.projects.sync('nix', configured.map(registrySpec))
  for (const e of await rt.projects.list()) await apply(e)
  const sub = rt.projects.subscribe((ev) => {
    void (ev.type === 'removed' ? remove(ev.project.name) : apply(ev.project))
      .catch((err) => rt.log.error({ project: ev.project.name, err: (err as Error).message }, 'updating a project failed'))
  })
  rt.signal.addEventListener('abort', () => sub.unsubscribe(), { once: true })
}

/**
 * Builds Nix flakes as buildbot-nix does: per project an evaluation builder that checks out,
 * evaluates `checks` (or the attribute from buildbot-nix.toml) and triggers one child build per
 * attribute as soon as it is evaluated and its dependencies are built.
 *
 * @example
 * ```ts
 * plugins: [nix({ workers: ['local'], projects: [{ name: 'acme/app', url: 'https://example.org/acme/app.git', pollInterval: 60 }] })]
 * ```
 */
export const nix = definePlugin({
  name: 'nix',
  options: nixOptionsSchema,
  provides: [NixKey],
  setup(api, options) {
    api.addMigrations(nixMigrations)
    const opts = resolveNixOptions(options, api.basedir, cpus().length)
    // The composition root: each hop gets what it needs and owns its own state.
    const runtime = createRuntimeSlot()
    const projects = new Map(opts.projects.map((p) => [p.name, p]))
    const hooks = createNixHooks({
      onError: (err, hook) => {
        const text = (err as Error)?.stack ?? String(err)
        const rt = runtime.peek()?.rt
        if (rt) rt.log.error({ hook, err: text }, 'a nix hook handler failed')
        else process.stderr.write(`nix hook ${hook}: a handler failed: ${text}\n`)
      },
    })
    const outputs = createOutputKeeper(opts)
    const postBuildSteps: StepSpec[] = []
    const skippedPostBuildSteps: StepSpec[] = []
    const matrix: MatrixHop = { runtime, hooks, buildSystems: opts.buildSystems, cacheFailedBuilds: opts.cacheFailedBuilds, outputs }
    const evaluation: EvaluationHop = {
      runtime, hooks, matrix, outputs, skippedPostBuildSteps, runs: new Map(), evalSem: createFairSemaphore(opts.maxConcurrentEvals),
      limits: { workers: opts.evalWorkerCount, maxMemoryMiB: opts.evalMaxMemorySize, timeoutSec: opts.evalTimeout },
    }
    const child: ChildHop = { runtime, projects, outputs, maxSilentTime: opts.maxSilentTime, buildTimeout: opts.buildTimeout }
    const hops: ProjectHops = { workers: opts.workers, evaluation, child, postBuildSteps, buildStepLists: new Map(), branchGlobs: opts.branchRules.map((r) => r.matchGlob) }
    api.addMetrics((register) => registerNixMetrics(register, hooks))
    // The configured projects' parts are set at start (from the registry); checked here with the config.
    for (const p of opts.projects) api.checkParts(p.name, projectParts(hops, p))
    api.provide(NixKey, {
      addPostBuildStep(step, o = {}) {
        const wrapped = conditionalStep(step, o.when)
        postBuildSteps.push(wrapped)
        for (const list of hops.buildStepLists.values()) list.splice(list.length - 1, 0, wrapped)
        if (o.alsoForSkipped) skippedPostBuildSteps.push(wrapped)
      },
      hooks,
      reportStatuses: (sink, o = {}) => reportNixStatuses(hooks, sink, {
        ...o, defaultLimit: opts.failedBuildReportLimit, defaultBranchOf: (p) => projects.get(p)?.defaultBranch ?? 'the default branch',
      }),
      emitEffects: (ev) => hooks.effects.call(ev),
    })
    api.addRestEndpoint({
      path: 'builds/n:buildid/nixjobs', plural: 'nixjobs', kind: 'collection',
      async get({ path }) {
        const jobs = runtime.peek()?.jobs
        if (!jobs) return []
        return (await jobs.list(Number(path.buildid))).map((j) => publicJob(j) as unknown as Record<string, unknown>)
      },
    })
    api.addRestEndpoint({
      // The builds that built the outputs an evaluation skipped as already built.
      path: 'builds/n:buildid/nixbuiltby', plural: 'nixbuiltby', kind: 'collection',
      async get({ path }) {
        const rt = runtime.peek()?.rt
        if (!rt) return []
        return (await readBuiltBy(rt.storage<NixTables>().db, Number(path.buildid))) as unknown as Record<string, unknown>[]
      },
    })
    api.addRestEndpoint({
      // `nixgrid/12,15,19`: the jobs of several evaluations side by side (history grid, what changed).
      path: 'nixgrid/s:buildids', plural: 'nixgrid', kind: 'single',
      async get({ path }) {
        const ids = parseBuildIds(String(path.buildids))
        const rt = runtime.peek()?.rt
        if (!ids || !rt) return undefined
        return [await readGrid(rt.storage<NixTables>().db, ids) as unknown as Record<string, unknown>]
      },
    })
    api.onStart(async (rt) => {
      const jobs = createJobsStore(rt.storage<NixTables>())
      const nix = await probe()
      // One long-running `nix-store --serve` answers the shared processes' validity questions.
      const store = nix.ok && opts.shareNixProcesses ? createStoreServe() : undefined
      const batcher = store
        ? createBuildBatcher({ maxSilentTime: opts.maxSilentTime, timeout: opts.maxSilentTime + 60, buildTimeout: opts.buildTimeout, delayMs: opts.shareWindowMs, validPaths: (p) => store.validPaths(p) })
        : undefined
      runtime.set({ rt, jobs, nix, batcher, store })
      if (nix.ok) rt.log.info({ nix: nix.version.version.join('.'), evaluator: nix.evaluator.name }, 'nix plugin ready')
      else rt.log.error({ missing: 'nix' }, `${nix.message}; evaluations will fail until it is installed`)
      await followRegistry(rt, hops, projects, opts.projects)
    })
    // A master stopping interrupts the builds first, which ends their shared nix processes; on a
    // reconfigure, running builds keep this state and finish normally.
    api.onStop(() => runtime.peek()?.store?.close())
  },
})
