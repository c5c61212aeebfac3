import type { Data } from './data/data.ts'
import type { Logger } from './util/logger.ts'
import type { SchedulerRuntime, SchedulerServices, SchedulerSpec } from './schedulers/scheduler.ts'
import type { ChangeEntity } from './data/changes.ts'
import type { BuildRequestDistributor } from './process/build-request-distributor.ts'
import type { Properties } from './data/buildsets.ts'

interface Running { spec: SchedulerSpec; runtime: SchedulerRuntime; schedulerid: number; fingerprint: string }

/** Runs the configured schedulers, feeds them changes, and restarts only those that changed. */
export class SchedulerHost {
  private readonly running = new Map<string, Running>()
  constructor(private readonly data: Data, private readonly log: Logger, private readonly brd: BuildRequestDistributor, private readonly globalProps: () => Record<string, unknown>) {}

  async apply(specs: SchedulerSpec[]): Promise<void> {
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
      this.running.set(spec.name, { spec, runtime, schedulerid, fingerprint: JSON.stringify(spec.fingerprint) })
      await runtime.start()
    }
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
    for (const r of this.running.values()) {
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
  async stop(): Promise<void> { for (const r of this.running.values()) await r.runtime.stop(); this.running.clear() }
}
