import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Bus, Subscription } from '../bus/bus.ts'
import type { Data } from '../data/data.ts'
import type { BuildEntity } from '../data/builds.ts'
import type { BuildRequestDistributor } from '../process/build-request-distributor.ts'
import type { WorkerManager } from '../workers/worker-manager.ts'
import { RESULT_NAMES } from '../util/results.ts'
import type { PgEventBridgeStats } from '../master/pg-event-bridge.ts'

export interface MasterMetricsDeps {
  bus: Bus
  data: () => Data
  brd: () => BuildRequestDistributor
  workers: () => WorkerManager
  /** The registries the current configuration's plugins filled (`api.addMetrics`). */
  pluginRegistries: () => Registry[]
  /** Events exchanged with other masters over PostgreSQL (undefined on sqlite). */
  events?: () => PgEventBridgeStats | undefined
}

/** Build durations: seconds to hours (a Nix build of a large closure). */
const DURATION_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600]

/**
 * The master's Prometheus metrics (`GET /metrics`). One registry per master (no process-wide
 * state): counters follow this master's bus, gauges are read when scraped. Builder-level
 * families carry `builder` and `project` (the project the builder belongs to, '' when none).
 */
export function createMasterMetrics(deps: MasterMetricsDeps) {
  const registry = new Registry()
  /** builderid → labels, refreshed from the database at most once per scrape. */
  let labelsById = new Map<number, { builder: string; project: string }>()
  const labelsOf = async (builderid: number) => {
    let l = labelsById.get(builderid)
    if (!l) { await refreshLabels(); l = labelsById.get(builderid) }
    return l ?? { builder: String(builderid), project: '' }
  }
  async function refreshLabels(): Promise<void> {
    const rows = await deps.data().db.k.selectFrom('builders as b').leftJoin('projects as p', 'p.projectid', 'b.projectid')
      .select(['b.builderid', 'b.name', 'p.name as project']).execute()
    labelsById = new Map(rows.map((r) => [r.builderid, { builder: r.name, project: r.project ?? '' }]))
  }

  const finished = new Counter({ name: 'bbn_builds_finished_total', help: 'Builds this master finished, by builder, project and result (success, failure, ...)', labelNames: ['builder', 'project', 'result'], registers: [registry] })
  const duration = new Histogram({ name: 'bbn_build_duration_seconds', help: 'Wall time of the builds this master finished', labelNames: ['builder', 'project'], buckets: DURATION_BUCKETS, registers: [registry] })
  const running = new Gauge({ name: 'bbn_builds_running', help: 'Builds running on this master', labelNames: ['builder', 'project'], registers: [registry], collect: () => readBuilders() })
  const queued = new Gauge({ name: 'bbn_buildrequests_queued', help: "Unclaimed build requests in this master's queues (every master queues all requests of the builders it has)", labelNames: ['builder', 'project'], registers: [registry], collect: () => readBuilders() })
  const age = new Gauge({ name: 'bbn_buildrequests_oldest_age_seconds', help: 'Age of the oldest unclaimed build request per builder (0 when none)', labelNames: ['builder', 'project'], registers: [registry], collect: () => readBuilders() })
  const outbox = new Gauge({ name: 'bbn_status_outbox_pending', help: 'Commit statuses this master queued and has not sent yet, by reporter', labelNames: ['reporter'], registers: [registry], collect: () => readOutbox() })
  const outboxFailed = new Gauge({ name: 'bbn_status_outbox_failed', help: 'Commit statuses this master gave up sending (kept for inspection), by reporter', labelNames: ['reporter'], registers: [registry], collect: () => readOutbox() })
  const workers = new Gauge({ name: 'bbn_workers_connected', help: 'Workers connected to this master', registers: [registry], collect: () => readBuilders() })
  const wsClients = new Gauge({ name: 'bbn_ws_clients', help: 'Open /ws connections', registers: [registry] })
  const lag = new Gauge({ name: 'bbn_event_loop_lag_seconds', help: 'Event-loop delay since the previous scrape (quantile 0.5, 0.99 and 1 = max)', labelNames: ['quantile'], registers: [registry], collect: () => readLag() })
  new Counter({
    name: 'bbn_events_shared_total', help: 'Events exchanged with other masters over PostgreSQL: sent, received, and received while catching up after a lost connection',
    labelNames: ['direction'], registers: [registry],
    collect() {
      const st = deps.events?.()
      this.reset()
      if (!st) return
      this.inc({ direction: 'sent' }, st.sent)
      this.inc({ direction: 'received' }, st.received)
      this.inc({ direction: 'caught_up' }, st.caughtUp)
    },
  })
  new Gauge({
    name: 'bbn_events_unsent', help: 'Events waiting to be sent to other masters (grows while the database is unreachable)', registers: [registry],
    collect() { this.set(deps.events?.()?.queued ?? 0) },
  })
  new Gauge({
    name: 'process_resident_memory_bytes', help: 'Resident memory of the master process', registers: [registry],
    collect() { this.set(process.memoryUsage.rss()) },
  })

  // Gauges read at scrape time. prom-client collects families concurrently, so the builder
  // gauges share one read per scrape (each collect awaits the same promise).
  let reading: Promise<void> | undefined
  const readBuilders = (): Promise<void> => reading ??= (async () => {
    try {
      await refreshLabels()
      for (const g of [running, queued, age]) g.reset()
      const now = Date.now() / 1000
      for (const b of deps.brd().builders.values()) {
        const l = labelsById.get(b.builderid) ?? { builder: b.config.name, project: '' }
        running.set(l, b.running.size)
        queued.set(l, b.queue.length)
        age.set(l, b.queue.length ? Math.max(0, now - Math.min(...b.queue.map((p) => p.submitted_at))) : 0)
      }
      workers.set(deps.workers().all().filter((s) => s.conn).length)
    } finally { reading = undefined }
  })()
  let readingOutbox: Promise<void> | undefined
  const readOutbox = (): Promise<void> => readingOutbox ??= (async () => {
    try {
      const data = deps.data()
      const rows = await data.db.k.selectFrom('status_outbox').select(['reporter', 'failed']).select((eb) => eb.fn.countAll<number>().as('n'))
        .where('sent_at_ms', 'is', null).where('masterid', '=', data.masterid).groupBy(['reporter', 'failed']).execute()
      outbox.reset(); outboxFailed.reset()
      for (const r of rows) (r.failed ? outboxFailed : outbox).set({ reporter: r.reporter }, Number(r.n))
    } finally { readingOutbox = undefined }
  })()

  let loop: IntervalHistogram | undefined
  const readLag = () => {
    if (!loop) return
    lag.set({ quantile: '0.5' }, loop.percentile(50) / 1e9)
    lag.set({ quantile: '0.99' }, loop.percentile(99) / 1e9)
    lag.set({ quantile: '1' }, loop.max / 1e9)
    loop.reset()
  }

  /** A build this master finished, counted once its builder's labels are known. */
  async function count(b: BuildEntity): Promise<void> {
    const l = await labelsOf(b.builderid)
    finished.inc({ ...l, result: RESULT_NAMES[b.results ?? -1] ?? 'unknown' })
    if (b.complete_at != null) duration.observe(l, Math.max(0, b.complete_at - b.started_at))
  }

  let sub: Subscription | undefined
  return {
    registry,
    /** A `/ws` connection opened (+1) or closed (-1). */
    wsClient(delta: 1 | -1): void { wsClients.inc(delta) },
    start(): void {
      loop = monitorEventLoopDelay({ resolution: 10 })
      loop.enable()
      sub = deps.bus.subscribe(['builds', null, 'finished'], (_k, m) => {
        const b = m as BuildEntity
        if (b.masterid !== deps.data().masterid) return
        void count(b).catch(() => {})
      }, { localOnly: true })
    },
    stop(): void { sub?.unsubscribe(); sub = undefined; loop?.disable(); loop = undefined },
    contentType: registry.contentType,
    /** The Prometheus text of the master's families and then every plugin's. */
    async text(): Promise<string> {
      const parts = [await registry.metrics()]
      for (const r of deps.pluginRegistries()) parts.push(await r.metrics())
      return parts.filter((p) => p.trim()).join('\n')
    },
  }
}

export type MasterMetrics = ReturnType<typeof createMasterMetrics>
