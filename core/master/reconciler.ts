import { join } from 'node:path'
import { cpus } from 'node:os'
import type { Bus } from '../bus/bus.ts'
import type { Data } from '../data/data.ts'
import type { ResolvedConfig } from '../config/resolved-config.ts'
import type { BuilderConfig } from '../process/builder-config.ts'
import type { BuildRequestDistributor } from '../process/build-request-distributor.ts'
import type { SchedulerHost } from '../scheduler-host.ts'
import type { SchedulerSpec } from '../schedulers/scheduler.ts'
import type { ChangeSourceRuntime, ChangeSourceSpec } from '../changes/change-source.ts'
import type { ReporterRuntime, ReporterSpec } from '../reporters/reporter.ts'
import { LocalWorkerConnection } from '../workers/local/local-worker.ts'
import type { WorkerManager, WorkerSlotConfig } from '../workers/worker-manager.ts'
import type { SecretResolver } from '../secrets/secrets.ts'
import { isSecretRef } from '../properties/renderable.ts'
import type { Logger } from '../util/logger.ts'
import { flatten, type PartsGroup } from './runtime-parts.ts'
import { gitAccessFor } from '../util/git-access.ts'

interface RunningPart<R> { fingerprint: string; runtime: R; abort: AbortController }

/** What the reconciler makes the running master match. */
export interface DesiredParts {
  builders: BuilderConfig[]
  schedulers: SchedulerSpec[]
  changeSources: ChangeSourceSpec[]
  reporters: ReporterSpec[]
}

export interface ReconcilerDeps {
  data: Data
  bus: Bus
  log: Logger
  secrets: SecretResolver
  workers: WorkerManager
  brd: BuildRequestDistributor
  schedulers: SchedulerHost
  config: () => ResolvedConfig
}

/**
 * Makes the running workers, builders, schedulers, change sources and reporters match a
 * configuration: builders are replaced by name (running builds keep their old steps), the others
 * are started, stopped or replaced only when their fingerprint changed.
 */
export function createReconciler(deps: ReconcilerDeps) {
  const { data, bus, log, secrets, workers, brd, schedulers } = deps
  const changeSources = new Map<string, RunningPart<ChangeSourceRuntime>>()
  const reporters = new Map<string, RunningPart<ReporterRuntime>>()

  async function resolvePassword(p: unknown): Promise<string | undefined> {
    if (p == null) return undefined
    return isSecretRef(p) ? secrets.get(p.secretName) : String(p)
  }

  async function applyWorkers(): Promise<void> {
    const config = deps.config()
    const decls: WorkerSlotConfig[] = []
    for (const { value: w } of config.workers) {
      decls.push({ name: w.name, password: await resolvePassword(w.password), maxBuilds: w.maxBuilds ?? (w.type === 'local' ? Math.max(4, cpus().length * 2) : Infinity), properties: w.properties ?? {}, remote: w.type === 'remote' })
    }
    await workers.configure(decls, (name) => brd.workerBuilders(name))
    for (const { value: w } of config.workers) {
      if (w.type !== 'local') continue
      const conn = workers.get(w.name)?.conn
      // A reconfigure keeps the running local worker; only what builds get from the environment changes.
      if (conn instanceof LocalWorkerConnection) { conn.passEnvironment = w.passEnvironment ?? []; continue }
      if (conn) continue
      await workers.attach(new LocalWorkerConnection(w.name, w.basedir ?? join(config.basedir, 'workers', w.name), w.passEnvironment))
    }
  }

  async function applyBuilders(builders: BuilderConfig[]): Promise<void> {
    const list: { config: BuilderConfig; builderid: number }[] = []
    const projectIds = new Map<string, number>()
    for (const b of builders) {
      const builderid = await data.builders.findBuilderId(b.name)
      let projectid: number | null = null
      if (b.project) {
        projectid = projectIds.get(b.project) ?? await data.projects.findProjectId(b.project)
        projectIds.set(b.project, projectid)
      }
      await data.builders.updateBuilderInfo(builderid, { description: b.description ?? null, projectid, tags: b.tags ?? [] })
      list.push({ config: b, builderid })
    }
    await data.builders.updateBuilderList(data.masterid, list.map((b) => b.builderid))
    brd.setBuilders(list)
    for (const slot of workers.all()) {
      await data.workers.workerConfigured(slot.workerid, list.filter((b) => b.config.workers.includes(slot.name)).map((b) => b.builderid))
    }
  }

  /** Starts, stops or replaces named parts so they match `specs`; unchanged fingerprints keep running. */
  async function applyNamed<S extends { name: string; fingerprint: unknown }, R extends { start(): unknown; stop(): unknown }>(
    running: Map<string, RunningPart<R>>, specs: S[], create: (spec: S, signal: AbortSignal) => Promise<R>,
  ): Promise<void> {
    const want = new Map(specs.map((spec) => [spec.name, spec]))
    for (const [name, r] of running) {
      if (want.has(name) && JSON.stringify(want.get(name)!.fingerprint) === r.fingerprint) continue
      r.abort.abort(); await r.runtime.stop(); running.delete(name)
    }
    for (const [name, spec] of want) {
      if (running.has(name)) continue
      const abort = new AbortController()
      const runtime = await create(spec, abort.signal)
      running.set(name, { fingerprint: JSON.stringify(spec.fingerprint), runtime, abort })
      await runtime.start()
    }
  }

  const applyChangeSources = (specs: ChangeSourceSpec[]) => applyNamed(changeSources, specs, async (spec, signal) => {
    const objectid = await data.state.objectId(spec.name, `changesource:${spec.type}`)
    return spec.create({
      data, log: log.child({ changesource: spec.name }), workdir: join(deps.config().basedir, 'changesources', spec.name.replace(/[^A-Za-z0-9_.-]/g, '_')),
      addChange: (c) => data.changes.addChange(c), signal,
      getState: (n, f) => data.state.getState(objectid, n, f), setState: (n, v) => data.state.setState(objectid, n, v),
      gitAccess: (url) => gitAccessFor(deps.config().gitAccess.map((g) => g.value), url, (s) => secrets.remember(s)),
    })
  })

  const applyReporters = (specs: ReporterSpec[]) => applyNamed(reporters, specs, async (spec, signal) =>
    spec.create({ data, bus, log: log.child({ reporter: spec.name }), buildbotURL: deps.config().buildbotURL, secret: (n) => secrets.get(n), signal }))

  async function stopAll<R extends { stop(): unknown }>(running: Map<string, RunningPart<R>>): Promise<void> {
    for (const r of running.values()) { r.abort.abort(); await r.runtime.stop() }
    running.clear()
  }

  return {
    /** Builders, then workers (they learn their builders), then builders again (workers' builder lists). */
    async applyEngine(want: Pick<DesiredParts, 'builders'>): Promise<void> {
      await applyBuilders(want.builders)
      await applyWorkers()
      await applyBuilders(want.builders)
    },
    applySchedulers: (want: Pick<DesiredParts, 'schedulers'>) => schedulers.apply(want.schedulers),
    async applySources(want: Pick<DesiredParts, 'changeSources' | 'reporters'>): Promise<void> {
      await applyChangeSources(want.changeSources)
      await applyReporters(want.reporters)
    },
    stopChangeSources: () => stopAll(changeSources),
    stopReporters: () => stopAll(reporters),
  }
}

export type Reconciler = ReturnType<typeof createReconciler>

/** The parts a resolved configuration asks for, and the groups plugins added at run time. */
export function desiredParts(config: ResolvedConfig, groups: PartsGroup[] = []): DesiredParts {
  const extra = flatten(groups)
  return {
    builders: [...config.builders.map((b) => b.value), ...extra.builders],
    schedulers: [...config.schedulers.map((s) => s.value), ...extra.schedulers],
    changeSources: [...config.changeSources.map((c) => c.value), ...extra.changeSources],
    reporters: config.reporters.map((r) => r.value),
  }
}
