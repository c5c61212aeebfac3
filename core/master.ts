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
import { createPluginHost, type PluginHost } from './master/plugin-host.ts'
import { createPluginRuntime } from './master/plugin-runtime.ts'
import { createHeartbeat } from './master/heartbeat.ts'
import { startListeners, type Listeners } from './master/listeners.ts'
import { routeEvents } from './master/event-routes.ts'
import { createSerialQueue } from './master/serial-queue.ts'

export interface MasterOptions {
  config: ResolvedConfig
  log?: Logger
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
  listeners?: Listeners
  unroute(): void
}

/**
 * The composition root: one master, no module state (two can run side by side in a test).
 * Each service lives in `core/master/`; this file only lists them in start and stop order.
 */
export function createMaster(opts: MasterOptions) {
  let config = opts.config
  const secrets = new SecretResolver(config.secretsProviders)
  const log = opts.log ?? createLogger({ level: config.logLevel, secrets: () => secrets.values() })
  const bus = new Bus({ onError: (err, key) => log.error({ key: key.join('/'), err: (err as Error).stack }, 'bus subscriber failed') })
  const serial = createSerialQueue()
  let run: Running | undefined
  let started = false
  const need = (): Running => { if (!run) throw new Error('the master is not started'); return run }

  const heartbeat = createHeartbeat({ data: () => need().data, log })
  const triggers = createTriggerService({ data: () => need().data, bus, log, schedulers: () => need().schedulers, brd: () => need().brd, properties: () => config.properties })
  const services = { get: <T>(key: { id: string }) => { const v = config.services.get(key.id); if (v === undefined) throw new Error(`no service '${key.id}'`); return v as T } }
  const buildDeps = (): BuildDeps => ({
    data: need().data, log, buildbotURL: config.buildbotURL, services,
    secret: (n) => secrets.get(n), redact: (t) => secrets.redact(t), ...triggers,
  })

  /** Applies `config` to the running schedulers, plugins, change sources and reporters. */
  async function applyServices(r: Running): Promise<void> {
    const want = desiredParts(config)
    await r.reconciler.applySchedulers(want)
    await r.plugins.apply(config.plugins)
    await r.reconciler.applySources(want)
  }

  const master = {
    get config() { return config },
    get data() { return need().data },
    bus,
    log,
    get ports() { return run?.listeners?.ports ?? { www: 0, msgpack: 0 } },
    get brd() { return need().brd },
    get workers() { return need().workers },
    get schedulers() { return need().schedulers },
    /** The control calls (force, stop, cancel, ...) the JSON-RPC surface uses; set once started. */
    get control() { return need().control },

    async start(): Promise<void> {
      const db = await connectDb(config.db, { baseDir: config.basedir })
      const data = createData({ db, bus })
      data.setMasterId(await data.masters.masterActive(config.masterName))
      const workers = new WorkerManager(data, log, () => brd.kick(), () => brd.workerLost())
      const brd = new BuildRequestDistributor(data, log, workers, buildDeps, () => config.collapseRequests)
      const schedulers = new SchedulerHost(data, log, brd, () => config.properties)
      const reconciler = createReconciler({ data, bus, log, secrets, workers, brd, schedulers, config: () => config })
      const runtimeDeps = { db, data, bus, log, secrets, schedulers, brd, config: () => config, reconfigure: () => master.reconfigure() }
      const plugins = createPluginHost({ db, log, runtime: (inst, signal) => createPluginRuntime(runtimeDeps, inst, signal) })
      const control = createMasterControl({ data, brd, workers, schedulers })
      run = { db, data, workers, brd, schedulers, reconciler, plugins, control, unroute: () => {} }

      const recovered = await data.recoverInterrupted()
      if (recovered.builds || recovered.requests) log.warn(recovered, 'recovered work interrupted by an unclean stop: builds marked RETRY, requests queued again')
      await heartbeat.expireDeadMasters()
      await reconciler.applyEngine(desiredParts(config))
      run.unroute = routeEvents({ bus, log, brd, schedulers })
      await brd.loadPending()
      await applyServices(run)
      run.listeners = await startListeners({ data, bus, log, control, workers, config: () => config, secret: (n) => secrets.get(n), uiDir: opts.uiDir })
      if (run.listeners.buildbotURL !== config.buildbotURL) config = Object.freeze({ ...config, buildbotURL: run.listeners.buildbotURL })
      heartbeat.start()
      started = true
      log.info({ url: config.buildbotURL, www: run.listeners.ports.www, msgpack: run.listeners.ports.msgpack || undefined }, 'master started')
    },

    /**
     * Applies a new configuration: only what changed is started, stopped or replaced; running
     * builds go on. Reconfigures run one at a time, in the order they were asked for.
     */
    reconfigure(next?: ResolvedConfig): Promise<void> {
      return serial.run(async () => {
        const r = need()
        if (!next) {
          const { loadConfig } = await import('./config/load.ts')
          next = await loadConfig(config.file)
        }
        if (next.www.port !== config.www.port || next.www.host !== config.www.host) log.warn('www host/port changes take effect after a restart')
        // The port picked for `www.port: 0` stays the real one.
        config = run?.listeners && next.buildbotURL !== config.buildbotURL && new URL(next.buildbotURL).port === '0' ? Object.freeze({ ...next, buildbotURL: config.buildbotURL }) : next
        secrets.setProviders(config.secretsProviders)
        await r.reconciler.applyEngine(desiredParts(config))
        await applyServices(r)
        await r.brd.loadPending()
        log.info('reconfigured')
      })
    },

    /** Stops everything; running builds end as RETRY and their requests run again on the next start. */
    async stop(): Promise<void> {
      const r = run
      if (!r) return
      heartbeat.stop()
      r.unroute()
      await r.listeners?.close()
      await r.reconciler.stopChangeSources()
      await r.schedulers.stop()
      await r.brd.stop({ interruptBuilds: true })
      await r.plugins.stop()
      await r.reconciler.stopReporters()
      for (const slot of r.workers.all()) await slot.conn?.disconnect('master stopping')
      if (started) await r.data.masters.masterStopped(r.data.masterid)
      await r.db.close()
      run = undefined
      started = false
    },
  }
  return master
}

export type Master = ReturnType<typeof createMaster>
export { worstStatus }
