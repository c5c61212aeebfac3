import { cpus } from 'node:os'
import { createKey, definePlugin, type StepSpec } from '../../core/index.ts'
import { createBuiltinEvaluator } from './eval/builtin-evaluator.ts'
import { createNixEvalJobsEvaluator } from './eval/nix-eval-jobs.ts'
import { nixEvalJobsAvailable, probeNixVersion } from './eval/nix-version.ts'
import { createFairSemaphore } from './fair-semaphore.ts'
import { createBuildBatcher } from './build-batcher.ts'
import { createGcRootBatcher } from './gc-root-batcher.ts'
import { createJobsStore, publicJob, type NixTables } from './jobs-store.ts'
import { nixMigrations } from './migrations.ts'
import { nixOptionsSchema, resolveNixOptions } from './options.ts'
import { NIX_MISSING, type NixAvailability, type NixPluginState } from './plugin-state.ts'
import { addProject } from './project.ts'
import { writeOutputPath } from './store/outputs-path.ts'

export type { NixPluginOptions, NixProjectOptions } from './options.ts'
export type { NixJobRow, JobState } from './jobs-store.ts'
export { ensureDemoFlake } from './demo-flake.ts'

/** What the nix plugin offers other plugins (e.g. a binary cache pushing built outputs). */
export interface NixApi {
  /** Adds a step run in every `nix-build` child after a successful build (properties `attr`, `out_path`, `drv_path`, …). */
  addPostBuildStep(step: StepSpec): void
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
    let outputs: Promise<void> = Promise.resolve()
    const state: NixPluginState = {
      opts, projects: new Map(opts.projects.map((p) => [p.name, p])), postBuildSteps: [], buildStepLists: [],
      evalSem: createFairSemaphore(opts.maxConcurrentEvals), runs: new Map(), roots: createGcRootBatcher(),
      writeOutput: (loc, outPath) => {
        if (!opts.outputsPath) return Promise.resolve()
        const next = outputs.then(() => writeOutputPath(opts.outputsPath!, loc, outPath)).then(() => undefined)
        outputs = next.catch(() => undefined)
        return next
      },
    }
    for (const p of opts.projects) addProject(api, state, p)
    api.provide(NixKey, {
      addPostBuildStep(step) {
        state.postBuildSteps.push(step)
        for (const list of state.buildStepLists) list.splice(list.length - 1, 0, step)
      },
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
      if (nix.ok && opts.shareNixProcesses) state.batcher = createBuildBatcher({ maxSilentTime: opts.maxSilentTime, timeout: opts.buildTimeout })
      if (nix.ok) rt.log.info({ nix: nix.version.version.join('.'), evaluator: nix.evaluator.name }, 'nix plugin ready')
      else rt.log.error({ missing: 'nix' }, `${nix.message}; evaluations will fail until it is installed`)
    })
    // Nothing to stop: a master stopping interrupts the builds first, which ends their shared nix
    // processes; on a reconfigure, running builds keep this state and finish normally.
  },
})
