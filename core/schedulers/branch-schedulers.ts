import { optionsFingerprint } from './options-fingerprint.ts'
import type { ChangeEntity } from '../data/changes.ts'
import { matchesFilter, type ChangeFilter } from './change-filter.ts'
import type { BaseSchedulerOptions, SchedulerServices, SchedulerSpec } from './scheduler.ts'

export interface BranchSchedulerOptions extends Omit<BaseSchedulerOptions, 'trusted'> {
  /**
   * Whether its buildsets may read secrets: fixed, or decided per change (a buildset is trusted
   * when every change it builds is). Default true; `(c) => c.trusted` builds untrusted input
   * (pull requests) trusted only when the code that added the change vouched for it.
   */
  trusted?: boolean | ((change: ChangeEntity) => boolean)
  changeFilter?: ChangeFilter
  /** Seconds without new changes before building; null builds every change at once. */
  treeStableTimer?: number | null
  /** Changes for which this returns false are remembered but do not trigger a build. */
  fileIsImportant?: (change: ChangeEntity) => boolean
  onlyImportant?: boolean
  reason?: string
}

/**
 * SingleBranch (one stream of changes) and AnyBranch (one stream per branch). Without a timer,
 * each change becomes a buildset; with one, the changes of a stream are collected until the tree
 * has been stable that long, then built together at the newest change. Classified changes are
 * stored, so a restart keeps them.
 */
function branchScheduler(type: 'singleBranch' | 'anyBranch', opts: BranchSchedulerOptions): SchedulerSpec {
  return {
    kind: 'scheduler', type, name: opts.name, builderNames: opts.builderNames, priority: opts.priority, properties: opts.properties,
    trusted: typeof opts.trusted === 'boolean' ? opts.trusted : undefined,
    fingerprint: { options: optionsFingerprint(opts), type, trusted: typeof opts.trusted === 'function' ? String(opts.trusted) : (opts.trusted ?? true), builderNames: opts.builderNames, timer: opts.treeStableTimer ?? null, props: opts.properties ?? {}, filter: String(JSON.stringify(opts.changeFilter, (_k, v) => (v instanceof RegExp || typeof v === 'function' ? String(v) : v))) },
    create(s: SchedulerServices) {
      const timers = new Map<string, NodeJS.Timeout>()
      const streamOf = (c: ChangeEntity) => (type === 'anyBranch' ? `${c.codebase}\u0000${c.branch ?? ''}` : '')
      let stopped = false

      async function fire(stream: string): Promise<void> {
        timers.delete(stream)
        if (stopped) return
        const classified = await s.data.schedulers.getClassifiedChanges(s.schedulerid)
        const changes: ChangeEntity[] = []
        for (const c of classified) {
          const ch = await s.data.changes.getChange(c.changeid)
          if (ch && streamOf(ch) === stream) changes.push(ch)
        }
        if (!changes.length) return
        await s.data.schedulers.flushClassifiedChanges(s.schedulerid, changes.map((c) => c.changeid))
        const important = classified.filter((c) => c.important).map((c) => c.changeid)
        if (!changes.some((c) => important.includes(c.changeid))) return
        await submit(changes[changes.length - 1]!, changes)
      }

      const trusts = (c: ChangeEntity) => (typeof opts.trusted === 'function' ? opts.trusted(c) === true : opts.trusted !== false)

      async function submit(change: ChangeEntity, all: ChangeEntity[] = [change]): Promise<void> {
        if (!(await s.enabled())) return
        await s.addBuildset({
          trusted: all.every(trusts),
          reason: opts.reason ?? `The ${type === 'singleBranch' ? 'SingleBranchScheduler' : 'AnyBranchScheduler'} scheduler named '${opts.name}' triggered this build`,
          // The change's properties come along (as Buildbot's), the scheduler's own win.
          sourcestamps: [change.sourcestamp.ssid], priority: opts.priority,
          properties: { ...Object.fromEntries(Object.entries(change.properties).map(([k, [v]]) => [k, v])), ...(opts.properties ?? {}) },
        })
      }

      return {
        async start() {
          // Changes classified before a restart still get built.
          const pending = await s.data.schedulers.getClassifiedChanges(s.schedulerid)
          const streams = new Set<string>()
          for (const c of pending) { const ch = await s.data.changes.getChange(c.changeid); if (ch) streams.add(streamOf(ch)) }
          for (const st of streams) timers.set(st, setTimeout(() => void fire(st).catch((err) => s.log.error({ err: String(err) }, 'scheduler failed')), (opts.treeStableTimer ?? 0) * 1000))
        },
        stop() { stopped = true; for (const t of timers.values()) clearTimeout(t); timers.clear() },
        wants: (change) => matchesFilter(opts.changeFilter, change),
        async onChange(change) {
          if (!matchesFilter(opts.changeFilter, change)) return
          const important = opts.fileIsImportant ? opts.fileIsImportant(change) : true
          if (!opts.treeStableTimer) {
            if (important || !opts.onlyImportant) { if (important) await submit(change) }
            return
          }
          await s.data.schedulers.addClassifiedChange(s.schedulerid, change.changeid, important)
          const stream = streamOf(change)
          const t = timers.get(stream)
          if (t) t.refresh()
          else timers.set(stream, setTimeout(() => void fire(stream).catch((err) => s.log.error({ err: String(err) }, 'scheduler failed')), opts.treeStableTimer * 1000))
        },
      }
    },
  }
}

export const singleBranch = (opts: BranchSchedulerOptions) => branchScheduler('singleBranch', opts)
export const anyBranch = (opts: BranchSchedulerOptions) => branchScheduler('anyBranch', opts)
