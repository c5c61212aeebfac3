import { join } from 'node:path'
import { Bus } from './bus/bus.ts'
import { connectDb, type Db } from './db/connect.ts'
import { createData, type Data } from './data/data.ts'
import { createPluginStorage, migratePlugin } from './db/plugin-storage.ts'
import { createLogger, type Logger } from './util/logger.ts'
import type { ResolvedConfig, PluginInstance } from './config/resolved-config.ts'
import { WorkerManager, type WorkerSlotConfig } from './workers/worker-manager.ts'
import { LocalWorkerConnection } from './workers/local/local-worker.ts'
import { BuildRequestDistributor } from './process/build-request-distributor.ts'
import type { BuildDeps } from './process/build.ts'
import { SchedulerHost } from './scheduler-host.ts'
import { createMasterControl } from './master-control.ts'
import { SecretResolver } from './secrets/secrets.ts'
import { isSecretRef } from './properties/renderable.ts'
import type { Properties } from './data/buildsets.ts'
import type { BuildRequestEntity } from './data/buildrequests.ts'
import type { ChangeEntity } from './data/changes.ts'
import type { RoutingKey } from './bus/bus.ts'
import { worstStatus, type Result } from './util/results.ts'
import type { ChangeSourceRuntime } from './changes/change-source.ts'
import type { ReporterRuntime } from './reporters/reporter.ts'
import type { PluginRuntime } from './plugin/plugin.ts'
import { createHttpServer } from './http/server.ts'
import type { HttpSurface } from './http/master-surface.ts'
import type { MsgpackListener } from './workers/msgpack/msgpack-listener.ts'
import { cpus } from 'node:os'

export interface MasterOptions {
  config: ResolvedConfig
  log?: Logger
  /** Directory of the built UI to serve at `/`. */
  uiDir?: string
}

interface RunningPart<R> { fingerprint: string; runtime: R; abort: AbortController }

/**
 * The composition root: one master, no module state (two can run side by side in a test).
 * `start()` opens the database, recovers interrupted work, then starts workers, builders,
 * schedulers, change sources, plugins, reporters and the HTTP and worker listeners.
 */
const HEARTBEAT_MS = 60_000
const MASTER_EXPIRY_S = 180

export function createMaster(opts: MasterOptions) {
  let config = opts.config
  const secrets = new SecretResolver(config.secretsProviders)
  const log = opts.log ?? createLogger({ level: config.logLevel, secrets: () => secrets.values() })
  const bus = new Bus({ onError: (err, key) => log.error({ key: key.join('/'), err: (err as Error).stack }, 'bus subscriber failed') })
  let db: Db | undefined
  let data!: Data
  let workers!: WorkerManager
  let brd!: BuildRequestDistributor
  let schedulers!: SchedulerHost
  let http: ReturnType<typeof createHttpServer> | undefined
  let msgpack: MsgpackListener | undefined
  let control: ReturnType<typeof createMasterControl> | undefined
  const changeSources = new Map<string, RunningPart<ChangeSourceRuntime>>()
  const reporters = new Map<string, RunningPart<ReporterRuntime>>()
  const plugins = new Map<string, { inst: PluginInstance; abort: AbortController }>()
  const subs: { unsubscribe(): void }[] = []
  let ports = { www: 0, msgpack: 0 }
  let started = false
  let heartbeat: NodeJS.Timeout | undefined

  async function expireDeadMasters(): Promise<void> {
    for (const r of await data.expireMasters(MASTER_EXPIRY_S)) {
      log.warn(r, 'a master stopped reporting; its interrupted builds are marked RETRY and its requests queued again')
    }
  }

  const serviceLocator = { get: <T>(key: { id: string }) => { const v = config.services.get(key.id); if (v === undefined) throw new Error(`no service '${key.id}'`); return v as T } }

  const buildDeps = (): BuildDeps => ({
    data, log, buildbotURL: config.buildbotURL, services: serviceLocator,
    secret: (n) => secrets.get(n), redact: (t) => secrets.redact(t),
    async trigger(parent, requests, _props) {
      const specs = requests.map((r) => {
        const s = schedulers.get(r.scheduler)
        if (!s || s.spec.type !== 'triggerable') throw new Error(`no triggerable scheduler named '${r.scheduler}'`)
        const properties: Properties = {}
        for (const [k, v] of Object.entries(config.properties)) properties[k] = [v, 'Global']
        for (const [k, v] of Object.entries(s.spec.properties ?? {})) properties[k] = [v, 'Scheduler']
        for (const [k, v] of Object.entries(r.properties ?? {})) properties[k] = [v, 'Trigger']
        return {
          reason: r.reason ?? `Triggered from ${parent.builderName}`, builderids: schedulers.builderIdsOf(r.scheduler), properties,
          scheduler: r.scheduler, sourcestamps: r.sourcestamps ?? parent.sourcestamps.map((ss) => ss.ssid),
          parent_buildid: parent.buildid, parent_relationship: 'Triggered from', priority: r.priority ?? s.spec.priority ?? 0, waited_for: true,
          // A triggered build runs the parent's source: it is exactly as trusted as the parent.
          trusted: parent.trusted,
        }
      })
      const added = await data.buildsets.addBuildsets(specs)
      return added.map((a, i) => ({ ...a, scheduler: requests[i]!.scheduler }))
    },
    async waitForBuildsets(bsids, onComplete) {
      const want = new Set(bsids)
      const results = new Map<number, Result>()
      return new Promise((resolve) => {
        let settled = false
        const settle = () => {
          if (settled || want.size) return
          settled = true
          sub.unsubscribe()
          clearInterval(timer)
          resolve(results)
        }
        const finish = (bsid: number, r: Result) => {
          if (!want.delete(bsid)) return
          results.set(bsid, r)
          onComplete?.(bsid, r)
          settle()
        }
        const sub = bus.subscribe(['buildsets', null, 'complete'], (_k, m) => { const e = m as { bsid: number; results: number }; finish(e.bsid, e.results as Result) })
        // Buildsets completed before the subscription, or by another master sharing the database
        // (whose bus this one does not hear), are read from the database: now, then every 10 s.
        const check = async () => {
          const ids = [...want]
          for (let i = 0; i < ids.length && !settled; i += 500) {
            const rows = await data.db.k.selectFrom('buildsets').select(['bsid', 'results']).where('bsid', 'in', ids.slice(i, i + 500)).where('complete', '=', 1).execute()
            for (const r of rows) finish(r.bsid, r.results as Result)
          }
          settle()
        }
        const timer = setInterval(() => void check().catch((err) => log.warn({ err: String(err) }, 'checking triggered buildsets failed')), 10_000)
        timer.unref()
        void check().catch((err) => log.warn({ err: String(err) }, 'checking triggered buildsets failed'))
      })
    },
    async cancelBuildsets(bsids, reason) {
      for (let i = 0; i < bsids.length; i += 500) {
        const rows = await data.db.k.selectFrom('buildrequests').select('buildrequestid').where('buildsetid', 'in', bsids.slice(i, i + 500)).where('complete', '=', 0).execute()
        await brd.cancelRequests(rows.map((r) => r.buildrequestid), reason)
      }
    },
  })

  async function resolvePassword(p: unknown): Promise<string | undefined> {
    if (p == null) return undefined
    return isSecretRef(p) ? secrets.get(p.secretName) : String(p)
  }

  async function applyWorkers(): Promise<void> {
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

  async function applyBuilders(): Promise<void> {
    const list: { config: (typeof config.builders)[number]['value']; builderid: number }[] = []
    const projectIds = new Map<string, number>()
    for (const { value: b } of config.builders) {
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

  /**
   * Starts, stops or replaces named parts (change sources, reporters) so they match `specs`: a
   * part whose fingerprint did not change keeps running.
   */
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

  const applyChangeSources = () => applyNamed(changeSources, config.changeSources.map((c) => c.value), async (spec, signal) => {
    const objectid = await data.state.objectId(spec.name, `changesource:${spec.type}`)
    return spec.create({
      data, log: log.child({ changesource: spec.name }), workdir: join(config.basedir, 'changesources', spec.name.replace(/[^A-Za-z0-9_.-]/g, '_')),
      addChange: (c) => data.changes.addChange(c), signal,
      getState: (n, f) => data.state.getState(objectid, n, f), setState: (n, v) => data.state.setState(objectid, n, v),
    })
  })

  const applyReporters = () => applyNamed(reporters, config.reporters.map((r) => r.value), async (spec, signal) =>
    spec.create({ data, bus, log: log.child({ reporter: spec.name }), buildbotURL: config.buildbotURL, secret: (n) => secrets.get(n), signal }))

  async function applyPlugins(): Promise<void> {
    // Every plugin instance of the new config is started: its setup ran again for this config,
    // so keeping the old running instance would leave the new registrations without a runtime.
    for (const [name, p] of [...plugins].reverse()) {
      p.abort.abort()
      for (const stop of [...p.inst.stops].reverse()) await stop()
      plugins.delete(name)
    }
    // Each plugin's tables are brought up to date first, in dependency order (setup order).
    for (const inst of config.plugins) await migratePlugin(db!, inst.name, inst.migrations)
    for (const inst of config.plugins) {
      if (plugins.has(inst.name)) continue
      const abort = new AbortController()
      const rt: PluginRuntime = {
        data, bus, log: log.child({ plugin: inst.name }), basedir: config.basedir, buildbotURL: config.buildbotURL,
        secret: (n) => secrets.get(n), signal: abort.signal, reconfigure: () => master.reconfigure(),
        storage: <T>() => createPluginStorage<T>(db!, bus, inst.name),
        scheduler(name) {
          const s = schedulers.get(name)
          if (!s) return undefined
          return {
            addBuildset: (spec) => data.buildsets.addBuildsets([{
              reason: spec.reason, sourcestamps: spec.sourcestamps, scheduler: name,
              builderids: (spec.builderNames ?? s.spec.builderNames).map((n) => brd.builder(n)?.builderid).filter((x): x is number => x != null),
              properties: Object.fromEntries(Object.entries(spec.properties ?? {}).map(([k, v]) => [k, [v, 'Scheduler']])),
              trusted: spec.trusted ?? s.spec.trusted ?? true,
            }]).then((r) => r[0]!),
          }
        },
      }
      plugins.set(inst.name, { inst, abort })
      for (const start of inst.starts) {
        try { await start(rt) } catch (err) { throw new Error(`[plugin ${inst.name}] failed to start: ${(err as Error).message}`) }
      }
    }
  }

  const master = {
    get config() { return config },
    get data() { return data },
    bus,
    log,
    get ports() { return ports },
    get brd() { return brd },
    get workers() { return workers },
    get schedulers() { return schedulers },
    /** The control calls (force, stop, cancel, ...) the JSON-RPC surface uses; set once started. */
    get control() { if (!control) throw new Error('the master is not started'); return control },

    async start(): Promise<void> {
      db = await connectDb(config.db, { baseDir: config.basedir })
      data = createData({ db, bus })
      data.setMasterId(await data.masters.masterActive(config.masterName))
      workers = new WorkerManager(data, log, () => brd.kick(), () => brd.workerLost())
      brd = new BuildRequestDistributor(data, log, workers, buildDeps, () => config.collapseRequests)
      schedulers = new SchedulerHost(data, log, brd, () => config.properties)
      const recovered = await data.recoverInterrupted()
      if (recovered.builds || recovered.requests) log.warn(recovered, 'recovered work interrupted by an unclean stop: builds marked RETRY, requests queued again')
      await expireDeadMasters()
      await applyBuilders()
      await applyWorkers()
      await applyBuilders()
      subs.push(bus.subscribe(['buildrequests', null, 'new'], (_k, m) => void brd.onRequest(m as BuildRequestEntity, true).catch((e) => log.error({ err: String(e) }, 'queueing a request failed'))))
      subs.push(bus.subscribe(['buildrequests', null, 'unclaimed'], (_k, m) => void brd.onRequest(m as BuildRequestEntity, false).catch((e) => log.error({ err: String(e) }, 'queueing a request failed'))))
      subs.push(bus.subscribe(['changes', null, 'new'], (_k: RoutingKey, m) => void schedulers.onChange(m as ChangeEntity)))
      await brd.loadPending()
      await schedulers.apply(config.schedulers.map((s) => s.value))
      await applyPlugins()
      await applyChangeSources()
      await applyReporters()
      control = createMasterControl({ data, brd, workers, schedulers })
      const surface: HttpSurface = {
        data, bus, log, title: config.title, buildbotURL: config.buildbotURL, www: { ...config.www, cookieSecret: config.www.cookieSecret ?? await sessionSecret(data) }, uiDir: opts.uiDir,
        control,
        rpcActions: () => config.rpcActions, restEndpoints: () => config.restEndpoints, changeHooks: () => config.changeHooks,
      }
      http = createHttpServer(surface)
      ports.www = (await http.listen()).port
      const url = new URL(config.buildbotURL)
      if (url.port === '0') {
        // `www.port: 0` picks a free port; links must name the real one.
        url.port = String(ports.www)
        config = Object.freeze({ ...config, buildbotURL: url.href })
        surface.buildbotURL = url.href
      }
      if (config.msgpack) {
        const { createMsgpackListener } = await import('./workers/msgpack/msgpack-listener.ts')
        msgpack = createMsgpackListener({ host: config.msgpack.host, port: config.msgpack.port, registry: workers, log, settings: { buffer_timeout: 0.1 } })
        ports.msgpack = (await msgpack.start()).port
      }
      // Buildbot's heartbeat: report every minute; masters silent for 3 minutes are dead.
      heartbeat = setInterval(() => {
        void data.masters.touch(data.masterid).then(expireDeadMasters).catch((err) => log.error({ err: String(err) }, 'master heartbeat failed'))
      }, HEARTBEAT_MS)
      heartbeat.unref()
      started = true
      log.info({ url: config.buildbotURL, www: ports.www, msgpack: ports.msgpack || undefined }, 'master started')
    },

    /** Applies a new configuration: only what changed is started, stopped or replaced; running builds go on. */
    async reconfigure(next?: ResolvedConfig): Promise<void> {
      if (!next) {
        const { loadConfig } = await import('./config/load.ts')
        next = await loadConfig(config.file)
      }
      if (next.www.port !== config.www.port || next.www.host !== config.www.host) log.warn('www host/port changes take effect after a restart')
      config = next
      secrets.setProviders(config.secretsProviders)
      await applyBuilders()
      await applyWorkers()
      await applyBuilders()
      await schedulers.apply(config.schedulers.map((s) => s.value))
      await applyPlugins()
      await applyChangeSources()
      await applyReporters()
      await brd.loadPending()
      log.info('reconfigured')
    },

    /** Stops everything; running builds end as RETRY and their requests run again on the next start. */
    async stop(): Promise<void> {
      if (!db) return
      if (heartbeat) clearInterval(heartbeat)
      for (const s of subs.splice(0)) s.unsubscribe()
      await http?.close()
      await msgpack?.stop()
      for (const r of changeSources.values()) { r.abort.abort(); await r.runtime.stop() }
      changeSources.clear()
      await schedulers?.stop()
      await brd?.stop({ interruptBuilds: true })
      for (const [, p] of [...plugins].reverse()) { p.abort.abort(); for (const stop of [...p.inst.stops].reverse()) await stop() }
      plugins.clear()
      for (const r of reporters.values()) { r.abort.abort(); await r.runtime.stop() }
      reporters.clear()
      for (const slot of workers?.all() ?? []) await slot.conn?.disconnect('master stopping')
      if (started) await data.masters.masterStopped(data.masterid)
      await db.close()
      db = undefined
    },
  }
  return master
}

/** The session-cookie secret, kept in the database (as Buildbot does) so logins survive restarts. */
async function sessionSecret(data: Data): Promise<string> {
  const id = await data.state.objectId('www', 'session')
  const existing = await data.state.getState<string | null>(id, 'secret', null)
  if (existing) return existing
  const { randomBytes } = await import('node:crypto')
  const secret = randomBytes(32).toString('hex')
  await data.state.setState(id, 'secret', secret)
  return secret
}

export type Master = ReturnType<typeof createMaster>
export { worstStatus }
