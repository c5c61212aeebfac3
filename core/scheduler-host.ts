import type { Data } from './data/data.ts'
import type { Logger } from './util/logger.ts'
import type { SchedulerRuntime, SchedulerServices, SchedulerSpec } from './schedulers/scheduler.ts'
import type { ChangeEntity } from './data/changes.ts'
import type { BuildRequestDistributor } from './process/build-request-distributor.ts'
import type { Properties } from './data/buildsets.ts'

interface Running { spec: SchedulerSpec; runtime: SchedulerRuntime; schedulerid: number; fingerprint: string }

/**
 * How long a change no running scheduler wanted waits for one that starts and wants it: long
 * enough for a discovered project's schedulers to start, short enough that a scheduler added by a
 * later reconfigure does not build old history.
 */
export const UNCLAIMED_CHANGE_MS = 15 * 60_000

/** Runs the configured schedulers, feeds them changes, and restarts only those that changed. */
export class SchedulerHost {
  private readonly running = new Map<string, Running>()
  /** Deciding who takes a change and starting schedulers exclude each other, so a change is neither lost nor handed twice. */
  private gate: Promise<unknown> = Promise.resolve()
  /** Names of the running schedulers (a new set after each change, so a change can keep the one it saw). */
  private runningNames: ReadonlySet<string> = new Set()
  /** Which schedulers ran when an unclaimed change arrived: they saw it, and a restart of theirs (a reconfigure) does not build it. */
  private readonly seenBy = new Map<number, { at: number; names: ReadonlySet<string> }>()
  constructor(private readonly data: Data, private readonly log: Logger, private readonly brd: BuildRequestDistributor, private readonly globalProps: () => Record<string, unknown>, private readonly now: () => number = Date.now) {}

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.gate.then(fn, fn)
    this.gate = run.catch(() => {})
    return run
  }

  async apply(specs: SchedulerSpec[]): Promise<void> {
    await this.exclusive(() => this.applyNow(specs))
  }

  private async applyNow(specs: SchedulerSpec[]): Promise<void> {
    const started: Running[] = []
    const want = new Map(specs.map((s) => [s.name, s]))
    for (const [name, r] of this.running) {
      const next = want.get(name)
      if (next && JSON.stringify(next.fingerprint) === r.fingerprint) { r.spec = next; continue }
      await r.runtime.stop()
      this.running.delete(name)
      await this.data.schedulers.setSchedulerMaster(r.schedulerid, null)
    }
    for (const spec of specs) {
      if (this.running.has(spec.name)) continue
      const schedulerid = await this.data.schedulers.findSchedulerId(spec.name)
      await this.data.schedulers.setSchedulerMaster(schedulerid, this.data.masterid)
      const runtime = spec.create(this.services(spec, schedulerid))
      const r: Running = { spec, runtime, schedulerid, fingerprint: JSON.stringify(spec.fingerprint) }
      this.running.set(spec.name, r)
      started.push(r)
      await runtime.start()
    }
    this.runningNames = new Set(this.running.keys())
    if (started.length) await this.takeUnclaimed(started)
  }

  /**
   * Hands the schedulers just started the recent changes nobody wanted that they want, unless they
   * were running when the change arrived (a reconfigure that widens a filter builds new changes
   * only, as Buildbot). Each change goes to one round of schedulers, once.
   */
  private async takeUnclaimed(started: Running[]): Promise<void> {
    for (const changeid of await this.data.schedulers.getUnclaimedChanges(this.now() - UNCLAIMED_CHANGE_MS)) {
      const change = await this.data.changes.getChange(changeid)
      if (!change) continue
      const saw = this.seenBy.get(changeid)?.names
      const takers = started.filter((r) => r.runtime.onChange && !saw?.has(r.spec.name) && this.wants(r, change))
      if (!takers.length || !(await this.data.schedulers.claimUnclaimedChange(changeid))) continue
      this.seenBy.delete(changeid)
      this.log.info({ changeid, schedulers: takers.map((r) => r.spec.name) }, 'a change that came before its schedulers is built now')
      await this.dispatch(takers, change)
    }
  }

  private wants(r: Running, change: ChangeEntity): boolean {
    if (!r.runtime.wants) return r.runtime.onChange != null
    // A filter that throws fails in onChange too; counting it as wanting never builds the change twice.
    try { return r.runtime.wants(change) } catch { return true }
  }

  private services(spec: SchedulerSpec, schedulerid: number): SchedulerServices {
    const host = this
    return {
      data: this.data, bus: this.data.bus, log: this.log.child({ scheduler: spec.name }), schedulerid,
      enabled: () => this.data.schedulers.isEnabled(schedulerid),
      async addBuildset(b) {
        const current = host.running.get(spec.name)?.spec ?? spec
        const names = b.builderNames ?? current.builderNames
        const builderids = names.map((n) => host.brd.builder(n)?.builderid).filter((x): x is number => x != null)
        const src = b.propertySource ?? 'Scheduler'
        const properties: Properties = {}
        for (const [k, v] of Object.entries(host.globalProps())) properties[k] = [v, 'Global']
        for (const [k, v] of Object.entries(b.properties ?? {})) properties[k] = [v, src]
        const [added] = await host.data.buildsets.addBuildsets([{
          reason: b.reason, sourcestamps: b.sourcestamps, builderids, properties, scheduler: spec.name,
          priority: b.priority ?? current.priority ?? 0, external_idstring: b.external_idstring ?? null, rebuilt_buildid: b.rebuilt_buildid ?? null,
          trusted: b.trusted ?? current.trusted ?? true,
        }])
        return added!
      },
    }
  }

  async onChange(change: ChangeEntity): Promise<void> {
    const targets = await this.exclusive(async () => {
      const now = [...this.running.values()]
      if (!now.some((r) => this.wants(r, change))) {
        const at = this.now()
        for (const [id, seen] of this.seenBy) { if (seen.at >= at - UNCLAIMED_CHANGE_MS) break; this.seenBy.delete(id) }
        this.seenBy.set(change.changeid, { at, names: this.runningNames })
        await this.data.schedulers.addUnclaimedChange(change.changeid, at, UNCLAIMED_CHANGE_MS)
      }
      return now
    })
    await this.dispatch(targets, change)
  }

  private async dispatch(targets: Running[], change: ChangeEntity): Promise<void> {
    for (const r of targets) {
      if (!r.runtime.onChange) continue
      try { await r.runtime.onChange(change) } catch (err) { this.log.error({ scheduler: r.spec.name, err: (err as Error).message }, 'scheduler failed on a change') }
    }
  }

  get(name: string): Running | undefined { return this.running.get(name) }
  forceSchedulers(): Running[] { return [...this.running.values()].filter((r) => r.spec.type === 'force') }
  builderIdsOf(name: string): number[] {
    const r = this.running.get(name)
    return (r?.spec.builderNames ?? []).map((n) => this.brd.builder(n)?.builderid).filter((x): x is number => x != null)
  }
  async stop(): Promise<void> {
    await this.exclusive(async () => { for (const r of this.running.values()) await r.runtime.stop(); this.running.clear(); this.runningNames = new Set() })
  }
}
