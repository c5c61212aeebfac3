import { cpus } from 'node:os'
import { createKey, definePlugin, type PluginRuntime, type ProjectEntity, type StepSpec } from '../../core/index.ts'
import { createBuiltinEvaluator } from './eval/builtin-evaluator.ts'
import { createNixEvalJobsEvaluator } from './eval/nix-eval-jobs.ts'
import { nixEvalJobsAvailable, probeNixVersion } from './eval/nix-version.ts'
import { createFairSemaphore } from './fair-semaphore.ts'
import { createBuildBatcher } from './build-batcher.ts'
import { createOutputKeeper } from './output-keeper.ts'
import { createJobsStore, publicJob, type NixTables } from './jobs-store.ts'
import { nixMigrations } from './migrations.ts'
import { nixOptionsSchema, resolveNixOptions } from './options.ts'
import { NIX_MISSING, type NixAvailability, type NixPluginState } from './plugin-state.ts'
import { fromRegistry, projectParts, registrySpec } from './project.ts'
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
async function followRegistry(rt: PluginRuntime, state: NixPluginState): Promise<void> {
  const apply = async (e: ProjectEntity): Promise<void> => {
    const p = fromRegistry(e)
    if (!p) { await remove(e.name); return }
    state.projects.set(p.name, p)
    await rt.parts.set(p.name, projectParts(state, p))
  }
  const remove = async (name: string): Promise<void> => {
    state.projects.delete(name)
    state.buildStepLists.delete(name)
    await rt.parts.delete(name)
  }
  await rt.projects.sync('nix', state.opts.projects.map(registrySpec))
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
    const state: NixPluginState = {
      opts, projects: new Map(opts.projects.map((p) => [p.name, p])), postBuildSteps: [], skippedPostBuildSteps: [], buildStepLists: new Map(),
      hooks: createNixHooks({
        onError: (err, hook) => {
          const text = (err as Error)?.stack ?? String(err)
          if (state.rt) state.rt.log.error({ hook, err: text }, 'a nix hook handler failed')
          else process.stderr.write(`nix hook ${hook}: a handler failed: ${text}\n`)
        },
      }),
      evalSem: createFairSemaphore(opts.maxConcurrentEvals), runs: new Map(),
      outputs: createOutputKeeper(opts),
    }
    api.addMetrics((register) => registerNixMetrics(register, state.hooks))
    // The configured projects' parts are set at start (from the registry); checked here with the config.
    for (const p of opts.projects) api.checkParts(p.name, projectParts(state, p))
    api.provide(NixKey, {
      addPostBuildStep(step, o = {}) {
        const wrapped = conditionalStep(step, o.when)
        state.postBuildSteps.push(wrapped)
        for (const list of state.buildStepLists.values()) list.splice(list.length - 1, 0, wrapped)
        if (o.alsoForSkipped) state.skippedPostBuildSteps.push(wrapped)
      },
      hooks: state.hooks,
      reportStatuses: (sink, o = {}) => reportNixStatuses(state.hooks, sink, {
        ...o, defaultLimit: opts.failedBuildReportLimit, defaultBranchOf: (p) => state.projects.get(p)?.defaultBranch ?? 'the default branch',
      }),
      emitEffects: (ev) => state.hooks.effects.call(ev),
    })
    api.addRestEndpoint({
      path: 'builds/n:buildid/nixjobs', plural: 'nixjobs', kind: 'collection',
      async get({ path }) {
        if (!state.jobs) return []
        return (await state.jobs.list(Number(path.buildid))).map((j) => publicJob(j) as unknown as Record<string, unknown>)
      },
    })
    api.onStart(async (rt) => {
      state.rt = rt
      state.jobs = createJobsStore(rt.storage<NixTables>())
      state.nix = probe()
      const nix = await state.nix
      if (nix.ok && opts.shareNixProcesses) state.batcher = createBuildBatcher({ maxSilentTime: opts.maxSilentTime, timeout: opts.buildTimeout, delayMs: opts.shareWindowMs })
      if (nix.ok) rt.log.info({ nix: nix.version.version.join('.'), evaluator: nix.evaluator.name }, 'nix plugin ready')
      else rt.log.error({ missing: 'nix' }, `${nix.message}; evaluations will fail until it is installed`)
      await followRegistry(rt, state)
    })
    // Nothing to stop: a master stopping interrupts the builds first, which ends their shared nix
    // processes; on a reconfigure, running builds keep this state and finish normally.
  },
})
