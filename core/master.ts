import { Bus } from './bus/bus.ts'
import { connectDb, type Db } from './db/connect.ts'
import { createData, type Data } from './data/data.ts'
import { createLogger, type Logger } from './util/logger.ts'
import type { ResolvedConfig } from './config/resolved-config.ts'
import { WorkerManager } from './workers/worker-manager.ts'
import { BuildRequestDistributor } from './process/build-request-distributor.ts'
import type { BuildDeps } from './process/build.ts'
import { SchedulerHost } from './scheduler-host.ts'
import { createMasterControl } from './master-control.ts'
import { SecretResolver } from './secrets/secrets.ts'
import type { MasterControl } from './http/master-surface.ts'
import { worstStatus } from './util/results.ts'
import { createTriggerService } from './master/trigger-service.ts'
import { createReconciler, desiredParts, type Reconciler } from './master/reconciler.ts'
import { createPluginHost, type PluginHandle, type PluginHost } from './master/plugin-host.ts'
import { createPluginRuntime } from './master/plugin-runtime.ts'
import { createHeartbeat } from './master/heartbeat.ts'
import { startListeners, type Listeners } from './master/listeners.ts'
import { routeEvents } from './master/event-routes.ts'
import { createSerialQueue } from './master/serial-queue.ts'
import { createPartsStore, type PartsGroup, type RuntimeParts } from './master/runtime-parts.ts'
import { checkParts } from './master/parts-check.ts'
import { flatten } from './master/runtime-parts.ts'
import { createProjectRegistry } from './projects/project-registry.ts'
import { createMasterMetrics, type MasterMetrics } from './metrics/master-metrics.ts'
import { createPgEventBridge, type PgEventBridge } from './master/pg-event-bridge.ts'
import { sql } from 'kysely'
import { gitAccessFor } from './util/git-access.ts'
import { createJanitor } from './master/janitor.ts'

export interface MasterOptions {
  config: ResolvedConfig
  log?: Logger
  /** Where the master's own logger writes (default stdout); ignored when `log` is given. */
  logDestination?: { write(line: string): void }
  /** Directory of the built UI to serve at `/`. */
  uiDir?: string
}

/** The services of a started master. */
interface Running {
  db: Db
  data: Data
  workers: WorkerManager
  brd: BuildRequestDistributor
  schedulers: SchedulerHost
  reconciler: Reconciler
  plugins: PluginHost
  control: MasterControl
  metrics: MasterMetrics
  /** Events to and from other masters sharing the PostgreSQL database (none on sqlite). */
  events?: PgEventBridge
  listeners?: Listeners
  unroute(): void
}

/**
 * The composition root: one master, no module state (two can run side by side in a test).
 * Each service lives in `core/master/` (or `core/projects/`); this file lists them in start and
 * stop order. Reconfigures, runtime-part changes and start run one at a time (`serial`).
 */
export function createMaster(opts: MasterOptions) {
  let config = opts.config
  /** The configuration a reconfigure is starting plugins for, until it is applied or refused. */
  let pending: ResolvedConfig | undefined
  const secrets = new SecretResolver(config.secretsProviders)
  const log = opts.log ?? createLogger({ level: config.logLevel, secrets: () => secrets.values(), destination: opts.logDestination })
  const bus = new Bus({ onError: (err, key) => log.error({ key: key.join('/'), err: (err as Error).stack }, 'bus subscriber failed') })
  const serial = createSerialQueue()
  const parts = createPartsStore()
  let run: Running | undefined
  let started = false
  const need = (): Running => { if (!run) throw new Error('the master is not started'); return run }

  const janitor = createJanitor({ db: () => need().db, log, config: () => config.retention })
  const heartbeat = createHeartbeat({ data: () => need().data, log })
  const triggers = createTriggerService({ data: () => need().data, bus, log, schedulers: () => need().schedulers, brd: () => need().brd, properties: () => config.properties, redact: (t) => secrets.redact(t) })
  const projects = createProjectRegistry({ data: () => need().data, log, sources: () => config.projectSources.map((s) => s.value) })
  const services = { get: <T>(key: { id: string }) => { const v = config.services.get(key.id); if (v === undefined) throw new Error(`no service '${key.id}'`); return v as T } }
  const buildDeps = (): BuildDeps => ({
    data: need().data, log, buildbotURL: config.buildbotURL, services,
    secret: (n) => secrets.get(n), redact: (t) => secrets.redact(t), ...triggers,
    gitAccess: (url) => gitAccessFor(config.gitAccess.map((g) => g.value), url, (s) => secrets.remember(s)),
  })

  /** Makes everything match `config` and the runtime groups (only what changed restarts). */
  async function reconcile(r: Running): Promise<void> {
    const want = desiredParts(config, parts.groups())
    await r.reconciler.applyEngine(want)
    await r.reconciler.applySchedulers(want)
    await r.reconciler.applySources(want)
  }

  let queuedReconcile: Promise<void> | undefined
  /** One reconcile for any number of runtime-part changes made before it starts. */
  function scheduleReconcile(): Promise<void> {
    queuedReconcile ??= serial.run(async () => {
      queuedReconcile = undefined
      if (!run) return
      await reconcile(run)
      await run.brd.loadPending()
    })
    return queuedReconcile
  }

  /** `rt.parts` of one plugin instance. */
  function partsOf(handle: PluginHandle): RuntimeParts {
    const owner = handle.name
    async function change(key: string, group: PartsGroup | undefined): Promise<boolean> {
      if (handle.status === 'retired') return false
      const isPending = handle.status === 'pending'
      const target = isPending ? pending ?? config : config
      if (group) {
        const others = desiredParts(target, parts.others(owner, key, isPending ? owner : undefined))
        const errors = checkParts(`${owner}:${key}`, group, { ...flatten([]), ...others }, new Set(target.workers.map((w) => w.value.name)))
        if (errors.length) {
          log.error({ plugin: owner, key, errors }, `runtime parts '${key}' refused: ${errors.join('; ')}`)
          return false
        }
      }
      if (isPending) { parts.stage(owner, key, group); return true }
      parts.set(owner, key, group)
      // Inside a start or reconfigure, that job applies everything when its plugins have started.
      if (!serial.inside()) await scheduleReconcile()
      return true
    }
    return {
      set: (key, group) => change(key, group),
      delete: (key) => change(key, undefined),
      keys: () => parts.keys(owner, handle.status === 'pending'),
    }
  }

  /** Starts `next`'s plugins; on success makes `next` the configuration and applies it. */
  async function applyConfig(r: Running, next: ResolvedConfig): Promise<void> {
    pending = next
    const prevProviders = config.secretsProviders
    secrets.setProviders(next.secretsProviders)
    let gen
    try {
      gen = await r.plugins.begin(next.plugins)
    } catch (err) {
      pending = undefined
      parts.dropStaged()
      secrets.setProviders(prevProviders)
      throw err
    } finally {
      pending = undefined
    }
    const prev = config
    config = next
    gen.promote()
    parts.promote()
    // Projects registered by a plugin or project source the new configuration no longer has leave the registry.
    const registrars = (c: ResolvedConfig) => new Set([...c.plugins.map((p) => p.name), ...c.projectSources.map((s) => s.value.name)])
    const now = registrars(next)
    for (const gone of registrars(prev)) if (!now.has(gone)) await projects.sync(gone, [])
    await reconcile(r)
    await gen.retireOld()
  }

  const reloadAction = {
    path: 'projects', method: 'reload', authzAction: 'reload', owner: 'core',
    handler: async () => {
      const result = await projects.reload()
      await serial.run(async () => {}) // the parts the registry's subscribers set are applied
      return result
    },
  }

  const master = {
    get config() { return config },
    get data() { return need().data },
    bus,
    log,
    /** The project registry (what plugins get as `rt.projects`). */
    projects,
    get ports() { return run?.listeners?.ports ?? { www: 0, msgpack: 0 } },
    get brd() { return need().brd },
    get workers() { return need().workers },
    get schedulers() { return need().schedulers },
    /** Counts of the events exchanged with other masters over PostgreSQL (undefined on sqlite or before start). */
    eventStats() { return run?.events?.stats() },
    /** The control calls (force, stop, cancel, ...) the JSON-RPC surface uses; set once started. */
    get control() { return need().control },

    async start(): Promise<void> {
      await serial.run(async () => {
        const applicationName = `buildbot-nix ${config.masterName}`.slice(0, 63)
        const db = await connectDb(config.db, { baseDir: config.basedir, applicationName })
        const data = createData({ db, bus })
        data.setMasterId(await data.masters.masterActive(config.masterName))
        const events = db.dialect === 'postgres' ? createPgEventBridge({ db, bus, log, masterid: data.masterid, applicationName }) : undefined
        await events?.start()
        const workers = new WorkerManager(data, log, () => brd.kick(), () => brd.workerLost())
        const brd = new BuildRequestDistributor(data, log, workers, buildDeps, () => config.collapseRequests)
        const schedulers = new SchedulerHost(data, log, brd, () => config.properties)
        const reconciler = createReconciler({ data, bus, log, secrets, workers, brd, schedulers, config: () => config })
        const runtimeDeps = { db, data, bus, log, secrets, schedulers, brd, config: () => config, reconfigure: () => master.reconfigure(), projects, parts: partsOf }
        const plugins = createPluginHost({ db, log, runtime: (inst, signal, handle) => createPluginRuntime(runtimeDeps, inst, signal, handle) })
        const control = createMasterControl({ data, brd, workers, schedulers })
        const metrics = createMasterMetrics({
          bus, data: () => data, brd: () => brd, workers: () => workers,
          pluginRegistries: () => config.plugins.flatMap((p) => (p.metrics ? [p.metrics] : [])),
          events: () => events?.stats(),
        })
        const r: Running = run = { db, data, workers, brd, schedulers, reconciler, plugins, control, metrics, events, unroute: () => {} }
        metrics.start()

        const recovered = await data.recoverInterrupted()
        if (recovered.builds || recovered.requests) log.warn(recovered, 'recovered work interrupted by an unclean stop: builds marked RETRY, requests queued again')
        await heartbeat.expireDeadMasters()
        await reconciler.applyEngine(desiredParts(config))
        r.unroute = routeEvents({ bus, log, brd, schedulers })
        await brd.loadPending()
        await reconciler.applySchedulers(desiredParts(config))
        await applyConfig(r, config)
        // Requests of builders the plugins added at start (runtime groups) are queued now.
        await brd.loadPending()
        r.listeners = await startListeners({ data, bus, log, control, workers, config: () => config, rpcActions: [reloadAction], secret: (n) => secrets.get(n), uiDir: opts.uiDir, metrics, ready: () => readiness(r) })
        if (r.listeners.buildbotURL !== config.buildbotURL) config = Object.freeze({ ...config, buildbotURL: r.listeners.buildbotURL })
        heartbeat.start()
        janitor.start()
        started = true
        log.info({ url: config.buildbotURL, www: r.listeners.ports.www, msgpack: r.listeners.ports.msgpack || undefined }, 'master started')
      })
      // The project sources' first discovery runs in the background (a forge may be slow), after
      // the start, so the groups it leads to are applied as any later change is.
      if (config.projectSources.length) void projects.reload().catch((err) => log.error({ err: String(err) }, 'project discovery failed'))
    },

    /**
     * Applies a new configuration: only what changed is started, stopped or replaced; running
     * builds go on. Reconfigures run one at a time, in the order they were asked for. If a plugin
     * of the new configuration fails to start, the previous configuration keeps running in full.
     */
    reconfigure(next?: ResolvedConfig): Promise<void> {
      // A plugin asking from inside a start or reconfigure gets its reconfigure after that one.
      if (serial.inside()) { void serial.run(() => doReconfigure(next)).catch(() => {}); return Promise.resolve() }
      return serial.run(() => doReconfigure(next))
    },

    /** Runs one retention pass now (`retention` in the config) and resolves with what it deleted. */
    prune: () => janitor.prune(),

    /** Stops everything; running builds end as RETRY and their requests run again on the next start. */
    async stop(): Promise<void> {
      const r = run
      if (!r) return
      heartbeat.stop()
      await janitor.stop()
      stopping = true
      r.unroute()
      r.metrics.stop()
      await r.listeners?.close()
      await r.reconciler.stopChangeSources()
      await r.schedulers.stop()
      await r.brd.stop({ interruptBuilds: true })
      await r.plugins.stop()
      await r.reconciler.stopReporters()
      for (const slot of r.workers.all()) await slot.conn?.disconnect('master stopping')
      if (started) await r.data.masters.masterStopped(r.data.masterid)
      await r.events?.stop()
      await r.db.close()
      run = undefined
      started = false
      stopping = false
    },
  }

  let stopping = false
  /** `/ready`: started, not stopping, and the database answers. */
  async function readiness(r: Running): Promise<{ ok: boolean; checks: Record<string, string> }> {
    const checks: Record<string, string> = {}
    if (!started) checks.master = 'starting'
    if (stopping) checks.master = 'stopping'
    try { await sql`select 1`.execute(r.db.k) } catch (err) { checks.database = (err as Error).message }
    if (r.events && !r.events.stats().connected) checks.events = "reconnecting to receive other masters' events"
    return { ok: Object.keys(checks).length === 0, checks }
  }

  async function doReconfigure(next?: ResolvedConfig): Promise<void> {
    const r = need()
    if (!next) {
      const { loadConfig } = await import('./config/load.ts')
      next = await loadConfig(config.file)
    }
    if (next.www.port !== config.www.port || next.www.host !== config.www.host) log.warn('www host/port changes take effect after a restart')
    // The port picked for `www.port: 0` stays the real one.
    if (r.listeners && next.buildbotURL !== config.buildbotURL && new URL(next.buildbotURL).port === '0') next = Object.freeze({ ...next, buildbotURL: config.buildbotURL })
    try {
      await applyConfig(r, next)
    } catch (err) {
      log.error({ err: (err as Error).message }, 'reconfigure refused: the previous configuration keeps running')
      // Runtime groups the running plugins changed meanwhile.
      await reconcile(r)
      throw err
    }
    await r.brd.loadPending()
    log.info('reconfigured')
  }

  return master
}

export type Master = ReturnType<typeof createMaster>
export { worstStatus }
