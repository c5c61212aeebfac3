import { isStorageFull, storageErrorText } from '../db/storage-error.ts'
import type { Data } from '../data/data.ts'
import type { Logger } from '../util/logger.ts'
import { CANCELLED, EXCEPTION, RETRY, SKIPPED } from '../util/results.ts'
import type { WorkerManager, WorkerSlot } from '../workers/worker-manager.ts'
import { Build, type BuildDeps } from './build.ts'
import type { BuilderConfig } from './builder-config.ts'
import type { BuildRequestEntity } from '../data/buildrequests.ts'
import { builderDirName } from '../workers/local/local-worker.ts'
import { parseJson } from '../data/context.ts'
import type { Properties } from '../data/buildsets.ts'

interface Pending { brid: number; bsid: number; priority: number; submitted_at: number; collapseKey?: string; revisionKey?: string }
/**
 * `busy`: per worker, the build-directory slots of this builder taken by claimed or running builds
 * (set before the build object exists). Slot 1 is the builder's own directory; concurrent builds
 * on one worker get `<builder>.slot<k>`, so they never share a directory.
 */
export interface BuilderRuntime { config: BuilderConfig; builderid: number; queue: Pending[]; running: Set<Build>; busy: Map<string, Set<number>> }

/**
 * Pairs unclaimed build requests with free workers. Requests are queued in memory per builder
 * (highest priority, then oldest first) and claimed in the database before a build starts, so
 * a second master or a restarted one never runs a request twice.
 */
export class BuildRequestDistributor {
  readonly builders = new Map<number, BuilderRuntime>()
  private readonly byName = new Map<string, BuilderRuntime>()
  private scheduled = false
  private running = false
  private stopping = false
  private readonly inflight = new Set<Promise<void>>()
  /** Every running build, also those of builders a reconfigure or a removed runtime group took away. */
  private readonly runningBuilds = new Set<Build>()
  /**
   * Requests taken off the queue whose build does not exist yet (being claimed, or loading its
   * buildset): a cancel arriving now is kept here and honoured before the build would start.
   */
  private readonly starting = new Map<number, { cancel?: string }>()
  /**
   * Arriving requests, handled in arrival order and in batches: collapsing must see every older
   * request already queued, and a burst (a fan-out) looks its buildsets up in a few queries.
   */
  private incoming: { e: BuildRequestEntity; isNew: boolean; resolve(): void; reject(err: unknown): void }[] = []
  private draining = false

  constructor(private readonly data: Data, private readonly log: Logger, private readonly workers: WorkerManager,
    private readonly buildDeps: () => BuildDeps, private readonly collapseDefault: () => boolean) {}

  setBuilders(list: { config: BuilderConfig; builderid: number }[]): void {
    const keep = new Set(list.map((b) => b.builderid))
    for (const [id, b] of this.builders) if (!keep.has(id)) { this.builders.delete(id); this.byName.delete(b.config.name) }
    for (const { config, builderid } of list) {
      const existing = this.builders.get(builderid)
      if (existing) { existing.config = config; this.byName.set(config.name, existing); continue }
      const rt: BuilderRuntime = { config, builderid, queue: [], running: new Set(), busy: new Map() }
      this.builders.set(builderid, rt)
      this.byName.set(config.name, rt)
    }
    this.kick()
  }

  builder(name: string): BuilderRuntime | undefined { return this.byName.get(name) }
  workerBuilders(workerName: string): { name: string; builddir: string }[] {
    return [...this.builders.values()].filter((b) => b.config.workers.includes(workerName))
      .map((b) => ({ name: b.config.name, builddir: b.config.builddir ?? builderDirName(b.config.name) }))
  }

  /** Loads every unclaimed, incomplete request (at start and after a reconfigure). */
  async loadPending(): Promise<void> {
    const rows = await this.data.db.k.selectFrom('buildrequests').leftJoin('buildrequest_claims', 'buildrequest_claims.brid', 'buildrequests.buildrequestid')
      .select(['buildrequestid', 'buildsetid', 'builderid', 'priority', 'submitted_at']).where('complete', '=', 0)
      .where('buildrequest_claims.brid', 'is', null).orderBy('buildrequestid').execute()
    for (const b of this.builders.values()) b.queue = []
    for (const r of rows) this.enqueue({ brid: r.buildrequestid, bsid: r.buildsetid, priority: r.priority, submitted_at: Number(r.submitted_at) }, r.builderid)
    this.kick()
  }

  /** A new or unclaimed request (from the bus), handled in arrival order. */
  onRequest(e: BuildRequestEntity, isNew: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      this.incoming.push({ e, isNew, resolve, reject })
      void this.drain()
    })
  }

  private async drain(): Promise<void> {
    if (this.draining) return
    this.draining = true
    try {
      while (this.incoming.length) {
        const batch = this.incoming.splice(0)
        try {
          await this.handleRequests(batch)
          for (const x of batch) x.resolve()
        } catch (err) {
          for (const x of batch) x.reject(err)
        }
      }
    } finally {
      this.draining = false
    }
  }

  private async handleRequests(batch: { e: BuildRequestEntity; isNew: boolean }[]): Promise<void> {
    const items: { b: BuilderRuntime; p: Pending; collapse: boolean }[] = []
    const seen = new Set<number>()
    for (const { e, isNew } of batch) {
      const b = this.builders.get(e.builderid)
      if (!b || e.complete || seen.has(e.buildrequestid) || b.queue.some((p) => p.brid === e.buildrequestid)) continue
      seen.add(e.buildrequestid)
      items.push({ b, collapse: isNew && (b.config.collapseRequests ?? this.collapseDefault()), p: { brid: e.buildrequestid, bsid: e.buildsetid, priority: e.priority, submitted_at: e.submitted_at } })
    }
    // Keys of everything the collapse checks below compare, looked up together.
    const perBuilder = new Map<BuilderRuntime, Pending[]>()
    for (const it of items) if (it.collapse) perBuilder.set(it.b, [...(perBuilder.get(it.b) ?? []), it.p])
    const need: Pending[] = []
    for (const [b, ps] of perBuilder) if (b.queue.length + ps.length > 1) need.push(...ps, ...b.queue)
    // Collapsing is an optimisation: if its lookups fail, the requests are queued uncollapsed
    // rather than dropped from the queue.
    let canCollapse = true
    try { await this.computeKeys(need) } catch (err) {
      canCollapse = false
      this.log.error({ err: (err as Error).message }, 'collapse lookup failed; queueing the requests as they are')
    }
    for (const { b, p, collapse } of items) {
      try {
        if (canCollapse && collapse && await this.collapse(b, p)) continue
      } catch (err) {
        this.log.error({ brid: p.brid, err: (err as Error).message }, 'collapsing failed; queueing the request as it is')
      }
      if (!b.queue.some((q) => q.brid === p.brid)) this.enqueue(p, b.builderid)
    }
    this.kick()
  }

  onRequestGone(brid: number, builderid: number): void {
    const b = this.builders.get(builderid)
    if (b) b.queue = b.queue.filter((p) => p.brid !== brid)
  }

  private enqueue(p: Pending, builderid: number): void {
    const b = this.builders.get(builderid)
    if (!b) return
    const q = b.queue
    // Keep the queue sorted: priority desc, then brid asc. Appends are the common case.
    let i = q.length
    while (i > 0 && (q[i - 1]!.priority < p.priority || (q[i - 1]!.priority === p.priority && q[i - 1]!.brid > p.brid))) i--
    q.splice(i, 0, p)
  }

  /**
   * Buildbot's default collapsing: older unclaimed requests of the same builder whose source
   * stamps (repository, branch, codebase, project; no patch; equal revisions unless both come
   * from changes), scheduler-set buildset properties and trust match are completed as SKIPPED. Requests added in
   * concurrent transactions may arrive out of order: one that arrives after a newer compatible
   * request is already queued is itself SKIPPED (returns true).
   */
  private async collapse(b: BuilderRuntime, p: Pending): Promise<boolean> {
    if (!b.queue.length) return false
    await this.computeKeys([p, ...b.queue])
    const older: number[] = []
    let newer = false
    for (const q of b.queue) {
      if (q.collapseKey !== p.collapseKey || !(q.revisionKey === p.revisionKey || (q.revisionKey === 'changes' && p.revisionKey === 'changes'))) continue
      if (q.brid < p.brid) older.push(q.brid)
      else if (q.brid > p.brid) newer = true
    }
    const skip = newer ? [p.brid] : older
    if (!skip.length) return false
    const claimed = await this.data.buildrequests.claimBuildRequests(skip)
    b.queue = b.queue.filter((q) => !claimed.includes(q.brid))
    await this.data.buildrequests.completeBuildRequests(claimed, SKIPPED)
    return newer
  }

  /** Fills in the collapse keys of requests that lack them, a few queries per 500 buildsets. */
  private async computeKeys(ps: Pending[]): Promise<void> {
    const missing = ps.filter((p) => p.collapseKey == null)
    const bsids = [...new Set(missing.map((p) => p.bsid))]
    const keys = new Map<number, { collapseKey: string; revisionKey: string }>()
    for (let i = 0; i < bsids.length; i += 500) {
      const part = bsids.slice(i, i + 500)
      const rows = await this.data.db.k.selectFrom('buildsets').select(['bsid', 'properties', 'trusted']).where('bsid', 'in', part).execute()
      const stamps = await this.data.buildsets.stampsOf(part)
      const ssids = [...new Set([...stamps.values()].flat().map((s) => s.ssid))]
      const fromChanges = new Set<number>()
      for (let j = 0; j < ssids.length; j += 500) {
        const ch = await this.data.db.k.selectFrom('changes').select('sourcestampid').distinct().where('sourcestampid', 'in', ssids.slice(j, j + 500)).execute()
        for (const c of ch) fromChanges.add(c.sourcestampid)
      }
      for (const r of rows) {
        const ss = stamps.get(r.bsid) ?? []
        // As Buildbot: only properties a scheduler set (source 'Scheduler') count, `scheduler`
        // excepted; a request with a patch never collapses.
        const props = Object.entries(parseJson<Properties>(r.properties, {})).filter(([k, v]) => k !== 'scheduler' && v?.[1] === 'Scheduler').sort()
        keys.set(r.bsid, {
          collapseKey: ss.some((s) => s.patch != null) ? `patch:${r.bsid}` : JSON.stringify([ss.map((s) => [s.repository, s.branch, s.codebase, s.project]).sort(), props, !!r.trusted]),
          revisionKey: ss.length > 0 && ss.some((s) => fromChanges.has(s.ssid)) ? 'changes' : JSON.stringify(ss.map((s) => s.revision)),
        })
      }
    }
    for (const p of missing) {
      const k = keys.get(p.bsid)
      p.collapseKey = k?.collapseKey ?? `missing:${p.bsid}`
      p.revisionKey = k?.revisionKey ?? ''
    }
  }

  /** Coalesces many triggers into one pass of the loop. */
  kick(): void {
    if (this.scheduled || this.stopping) return
    this.scheduled = true
    setImmediate(() => { this.scheduled = false; void this.loop() })
  }

  private async loop(): Promise<void> {
    if (this.running) { this.kick(); return }
    this.running = true
    try {
      const order = [...this.builders.values()].filter((b) => b.queue.length)
        .sort((a, b) => (b.config.priority ?? 0) - (a.config.priority ?? 0) || (a.queue[0]!.submitted_at - b.queue[0]!.submitted_at))
      for (const b of order) {
        while (b.queue.length && !this.stopping) {
          const slot = this.workers.acquire(b.config.workers, (s) => (b.busy.get(s.name)?.size ?? 0) < this.perWorkerLimit(b, s))
          if (!slot) break
          const p = b.queue.shift()!
          const dirSlot = this.takeDirSlot(b, slot.name)
          this.starting.set(p.brid, {})
          let got: number | undefined
          try {
            [got] = await this.data.buildrequests.claimBuildRequests([p.brid])
          } catch (err) {
            // Nothing was started: give the slot back and keep the request queued for the retry
            // (unless it was cancelled meanwhile: then it is cancelled now).
            const cancel = this.starting.get(p.brid)?.cancel
            this.starting.delete(p.brid)
            this.unbusy(b, slot.name, dirSlot)
            this.workers.release(slot)
            if (cancel == null) this.enqueue(p, b.builderid)
            else void this.cancelRequests([p.brid], cancel).catch((e: Error) => this.log.error({ brid: p.brid, err: e.message }, 'cancelling a build request failed'))
            throw err
          }
          if (got == null) { this.starting.delete(p.brid); this.unbusy(b, slot.name, dirSlot); this.workers.release(slot); continue }
          this.start(b, p, slot, dirSlot)
        }
      }
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'build request distributor failed; retrying')
      setTimeout(() => this.kick(), 1000).unref()
    } finally {
      this.running = false
    }
  }

  private start(b: BuilderRuntime, p: Pending, slot: WorkerSlot, dirSlot: number): void {
    const run = (async () => {
      let build: Build | undefined
      try {
        const bs = await this.data.buildsets.getBuildset(p.bsid)
        const cancel = this.starting.get(p.brid)?.cancel
        if (cancel != null) {
          // Cancelled between its claim and now: it never starts.
          this.starting.delete(p.brid)
          await this.data.buildrequests.completeBuildRequests([p.brid], CANCELLED, { claimed: true })
          for (const e of await this.data.buildrequests.load([p.brid])) this.data.buildrequests.publishCancel(e)
          return
        }
        build = new Build(this.buildDeps(), {
          name: b.config.name, builderid: b.builderid, steps: b.config.steps, properties: b.config.properties ?? {}, workerid: slot.workerid,
          dirKey: dirSlot === 1 ? b.config.name : `${b.config.name}.slot${dirSlot}`,
        }, { buildrequestid: p.brid, buildsetid: p.bsid, builderid: b.builderid, properties: bs?.properties ?? {}, sourcestamps: bs?.sourcestamps ?? [], reason: bs?.reason ?? '', trusted: bs?.trusted ?? false }, slot.conn!)
        b.running.add(build)
        this.runningBuilds.add(build)
        this.starting.delete(p.brid)
        const results = await build.run()
        if (results === RETRY) {
          await this.data.buildrequests.unclaimBuildRequests([p.brid])
          if (!this.stopping) this.enqueue({ brid: p.brid, bsid: p.bsid, priority: p.priority, submitted_at: p.submitted_at }, b.builderid)
        } else {
          await this.data.buildrequests.completeBuildRequests([p.brid], results, { claimed: true })
        }
      } catch (err) {
        const full = isStorageFull(err)
        const text = full ? storageErrorText(err) : `build failed to run: ${(err as Error).message}`
        this.log.error({ builder: b.config.name, buildid: build?.buildid, err: (err as Error).stack }, text)
        // Nothing stays "building" or claimed. A full disk may be freed: that build ends in RETRY
        // and its request is queued again once the database takes writes; any other failure ends
        // the build and its request in EXCEPTION.
        if (await this.writeUntilStopped(async () => {
          const id = build?.buildid
          if (id != null && !(await this.data.builds.getBuild(id))?.complete) await this.data.endBuild(id, full ? RETRY : EXCEPTION, full ? `retry: ${text}` : text, text)
          if (full) await this.data.buildrequests.unclaimBuildRequests([p.brid])
          else await this.data.buildrequests.completeBuildRequests([p.brid], EXCEPTION, { claimed: true })
        }, b.config.name) && full && !this.stopping) {
          this.enqueue({ brid: p.brid, bsid: p.bsid, priority: p.priority, submitted_at: p.submitted_at }, b.builderid)
        }
      } finally {
        this.starting.delete(p.brid)
        if (build) { b.running.delete(build); this.runningBuilds.delete(build) }
        this.unbusy(b, slot.name, dirSlot)
        this.workers.release(slot)
      }
    })()
    this.inflight.add(run)
    void run.finally(() => this.inflight.delete(run))
  }

  /**
   * Runs `write` until it succeeds, waiting longer after each failure (1 s doubling up to 5 s);
   * gives up when the distributor stops (the next start's recovery finishes the job).
   */
  private async writeUntilStopped(write: () => Promise<void>, builder: string): Promise<boolean> {
    for (let wait = 1_000; ; wait = Math.min(wait * 2, 5_000)) {
      try {
        await write()
        return true
      } catch (err) {
        if (this.stopping) return false
        this.log.warn({ builder, err: storageErrorText(err), retryInMs: wait }, 'could not record the end of a failed build; retrying')
        await new Promise((r) => setTimeout(r, wait))
        if (this.stopping) return false
      }
    }
  }

  /** Builds of one builder a worker may run at once: as Buildbot, one on a remote worker unless configured. */
  private perWorkerLimit(b: BuilderRuntime, s: WorkerSlot): number {
    return b.config.maxBuildsPerWorker ?? (s.config.remote ? 1 : Infinity)
  }

  private takeDirSlot(b: BuilderRuntime, worker: string): number {
    let used = b.busy.get(worker)
    if (!used) b.busy.set(worker, (used = new Set()))
    let k = 1
    while (used.has(k)) k++
    used.add(k)
    return k
  }

  private unbusy(b: BuilderRuntime, worker: string, dirSlot: number): void {
    const used = b.busy.get(worker)
    used?.delete(dirSlot)
    if (used && !used.size) b.busy.delete(worker)
  }

  findBuild(buildid: number): Build | undefined {
    for (const bld of this.runningBuilds) if (bld.buildid === buildid) return bld
    return undefined
  }
  findBuildByRequest(brid: number): Build | undefined {
    for (const bld of this.runningBuilds) if (bld.request.buildrequestid === brid) return bld
    return undefined
  }

  /** Cancels requests: pending ones complete CANCELLED, running ones have their build stopped. */
  async cancelRequests(brids: number[], reason: string): Promise<void> {
    const pending: number[] = []
    for (const brid of brids) {
      const running = this.findBuildByRequest(brid)
      if (running) { running.stop(reason); continue }
      const starting = this.starting.get(brid)
      if (starting) { starting.cancel ??= reason; continue }
      for (const b of this.builders.values()) {
        if (b.queue.some((p) => p.brid === brid)) { b.queue = b.queue.filter((p) => p.brid !== brid); pending.push(brid) }
      }
    }
    const claimed = await this.data.buildrequests.claimBuildRequests(pending)
    await this.data.buildrequests.completeBuildRequests(claimed, CANCELLED)
    for (const e of await this.data.buildrequests.load(claimed)) this.data.buildrequests.publishCancel(e)
  }

  /** Workers lost: their running builds end as RETRY by themselves (WorkerLostError). */
  workerLost(): void { this.kick() }

  /** Stops taking requests; running builds are stopped and end as RETRY so they run again. */
  async stop(opts: { interruptBuilds: boolean }): Promise<void> {
    this.stopping = true
    if (opts.interruptBuilds) for (const bld of this.runningBuilds) bld.stop('master shutting down', RETRY)
    await Promise.allSettled([...this.inflight])
  }

  waitIdle(): Promise<unknown> { return Promise.allSettled([...this.inflight]) }
  activeBuildCount(): number { return this.runningBuilds.size }
}
