import { optionsFingerprint } from './options-fingerprint.ts'
import { Cron } from 'croner'
import type { BaseSchedulerOptions, SchedulerServices, SchedulerSpec } from './scheduler.ts'

export interface NightlyOptions extends BaseSchedulerOptions {
  /** A cron expression (`'0 3 * * *'`), evaluated by croner. */
  cron: string
  timezone?: string
  branch?: string | null
  repository?: string
  project?: string
  /** Only build if a change on the branch arrived since the last build. */
  onlyIfChanged?: boolean
}

/** Builds at fixed times (Buildbot's Nightly), from a cron expression. */
export function nightly(opts: NightlyOptions): SchedulerSpec {
  return {
    kind: 'scheduler', type: 'nightly', name: opts.name, builderNames: opts.builderNames, priority: opts.priority, properties: opts.properties,
    trusted: opts.trusted ?? true,
    fingerprint: { options: optionsFingerprint(opts), type: 'nightly', trusted: opts.trusted ?? true, cron: opts.cron, tz: opts.timezone ?? null, builderNames: opts.builderNames, branch: opts.branch ?? null },
    create(s: SchedulerServices) {
      let job: Cron | undefined
      let changedSince = false
      const fire = async () => {
        if (opts.onlyIfChanged && !changedSince) return
        changedSince = false
        await s.addBuildset({ reason: `The Nightly scheduler named '${opts.name}' triggered this build`, properties: opts.properties, priority: opts.priority,
          sourcestamps: [{ branch: opts.branch ?? null, repository: opts.repository ?? '', project: opts.project ?? '' }] })
      }
      return {
        start() { job = new Cron(opts.cron, { timezone: opts.timezone, protect: true }, () => { void fire().catch((e) => s.log.error({ err: String(e) }, 'nightly failed')) }) },
        stop() { job?.stop() },
        async onChange(change) { if (opts.branch === undefined || change.branch === opts.branch) changedSince = true },
        // It builds the branch at its time, not the change: a change it notes is still unclaimed.
        wants: () => false,
      }
    },
  }
}

export interface PeriodicOptions extends BaseSchedulerOptions { periodicBuildTimer: number; branch?: string | null; repository?: string }

/** Builds every `periodicBuildTimer` seconds, counted from the last build (kept across restarts). */
export function periodic(opts: PeriodicOptions): SchedulerSpec {
  return {
    kind: 'scheduler', type: 'periodic', name: opts.name, builderNames: opts.builderNames, priority: opts.priority, properties: opts.properties,
    trusted: opts.trusted ?? true,
    fingerprint: { options: optionsFingerprint(opts), type: 'periodic', trusted: opts.trusted ?? true, every: opts.periodicBuildTimer, builderNames: opts.builderNames },
    create(s: SchedulerServices) {
      let timer: NodeJS.Timeout | undefined
      let objectid = 0
      let stopped = false
      // Every tick re-arms the next one, also after a failure; a stopped scheduler arms nothing.
      const schedule = (ms: number) => {
        if (stopped) return
        timer = setTimeout(() => {
          void tick().catch((e) => s.log.error({ err: String(e) }, 'periodic failed')).finally(() => schedule(opts.periodicBuildTimer * 1000))
        }, ms)
      }
      const tick = async () => {
        if (stopped) return
        await s.data.state.setState(objectid, 'last_build', Date.now())
        await s.addBuildset({ reason: `The Periodic scheduler named '${opts.name}' triggered this build`, properties: opts.properties, priority: opts.priority,
          sourcestamps: [{ branch: opts.branch ?? null, repository: opts.repository ?? '' }] })
      }
      return {
        async start() {
          objectid = await s.data.state.objectId(opts.name, 'PeriodicScheduler')
          const last = await s.data.state.getState<number>(objectid, 'last_build', 0)
          schedule(Math.max(0, last + opts.periodicBuildTimer * 1000 - Date.now()))
        },
        stop() { stopped = true; if (timer) clearTimeout(timer) },
      }
    },
  }
}
