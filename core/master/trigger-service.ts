import type { Bus } from '../bus/bus.ts'
import type { Data } from '../data/data.ts'
import type { Properties } from '../data/buildsets.ts'
import type { BuildDeps } from '../process/build.ts'
import type { BuildRequestDistributor } from '../process/build-request-distributor.ts'
import type { SchedulerHost } from '../scheduler-host.ts'
import type { Logger } from '../util/logger.ts'
import type { Result } from '../util/results.ts'
import { redactDeep } from '../secrets/secrets.ts'

export interface TriggerServiceDeps {
  data: () => Data
  bus: Bus
  log: Logger
  schedulers: () => SchedulerHost
  brd: () => BuildRequestDistributor
  /** The global properties of the current configuration. */
  properties: () => Record<string, unknown>
  /** Resolved secrets out of a text: a child's properties are stored redacted. */
  redact: (text: string) => string
}

export type TriggerService = Pick<BuildDeps, 'trigger' | 'waitForBuildsets' | 'cancelBuildsets'>

/**
 * What Trigger steps ask of the master: add buildsets through triggerable schedulers, wait for
 * them (on the bus, and in the database for buildsets another master completes), cancel them.
 */
export function createTriggerService(deps: TriggerServiceDeps): TriggerService {
  const { bus, log } = deps
  return {
    async trigger(parent, requests, _props) {
      const schedulers = deps.schedulers()
      const specs = requests.map((r) => {
        const s = schedulers.get(r.scheduler)
        if (!s || s.spec.type !== 'triggerable') throw new Error(`no triggerable scheduler named '${r.scheduler}'`)
        const properties: Properties = {}
        for (const [k, v] of Object.entries(deps.properties())) properties[k] = [v, 'Global']
        for (const [k, v] of Object.entries(s.spec.properties ?? {})) properties[k] = [v, 'Scheduler']
        // Stored for everyone to read: a secret the parent resolved stays out (the child, as trusted
        // as its parent, asks for the secret itself).
        for (const [k, v] of Object.entries(r.properties ?? {})) properties[k] = [redactDeep(v, deps.redact), 'Trigger']
        return {
          reason: r.reason ?? `Triggered from ${parent.builderName}`, builderids: schedulers.builderIdsOf(r.scheduler), properties,
          scheduler: r.scheduler, sourcestamps: r.sourcestamps ?? parent.sourcestamps.map((ss) => ss.ssid),
          parent_buildid: parent.buildid, parent_relationship: 'Triggered from', priority: r.priority ?? s.spec.priority ?? 0, waited_for: true,
          // A triggered build runs the parent's source: it is exactly as trusted as the parent.
          trusted: parent.trusted,
        }
      })
      const added = await deps.data().buildsets.addBuildsets(specs)
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
          for (const r of await deps.data().buildsets.completedResults([...want])) finish(r.bsid, r.results as Result)
          settle()
        }
        const timer = setInterval(() => void check().catch((err) => log.warn({ err: String(err) }, 'checking triggered buildsets failed')), 10_000)
        timer.unref()
        void check().catch((err) => log.warn({ err: String(err) }, 'checking triggered buildsets failed'))
      })
    },

    async cancelBuildsets(bsids, reason) {
      const brids = await deps.data().buildrequests.incompleteOfBuildsets(bsids)
      await deps.brd().cancelRequests(brids, reason)
    },
  }
}
