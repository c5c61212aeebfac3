import type { Db } from '../db/connect.ts'
import { migratePlugin } from '../db/plugin-storage.ts'
import type { PluginInstance } from '../config/resolved-config.ts'
import type { PluginRuntime } from '../plugin/plugin.ts'
import type { Logger } from '../util/logger.ts'

/** Where a plugin instance is: starting for a new configuration, running, or stopped/superseded. */
export interface PluginHandle { readonly name: string; status: 'pending' | 'current' | 'retired' }

interface Running { inst: PluginInstance; abort: AbortController; handle: PluginHandle }

/** A started set of plugin instances, not yet the running one. */
export interface PluginGeneration {
  /** Makes the new instances the running ones (the old ones' calls are ignored from now on). */
  promote(): void
  /** Stops the instances the new ones replaced. */
  retireOld(): Promise<void>
}

/**
 * Starts and stops plugin instances. A new configuration's instances are all started before the
 * old ones stop (its setup ran again, so its registrations need a runtime of their own); if one
 * fails to start, the ones started are stopped again and the old ones keep running untouched.
 */
export function createPluginHost(deps: { db: Db; log: Logger; runtime(inst: PluginInstance, signal: AbortSignal, handle: PluginHandle): PluginRuntime }) {
  let current: Running[] = []

  async function stopOne(p: Running): Promise<void> {
    p.handle.status = 'retired'
    p.abort.abort()
    for (const stop of [...p.inst.stops].reverse()) {
      try { await stop() } catch (err) { deps.log.error({ plugin: p.inst.name, err: (err as Error).message }, 'a plugin failed to stop') }
    }
  }
  const stopAll = async (list: Running[]) => { for (const p of [...list].reverse()) await stopOne(p) }

  return {
    /** Starts `instances` beside the running ones; throws (after stopping those it started) if one fails. */
    async begin(instances: PluginInstance[]): Promise<PluginGeneration> {
      // Each plugin's tables are brought up to date first, in dependency order (setup order), while
      // the running instances still run: a migration that fails leaves them as they are.
      for (const inst of instances) await migratePlugin(deps.db, inst.name, inst.migrations)
      const started: Running[] = []
      for (const inst of instances) {
        const abort = new AbortController()
        const handle: PluginHandle = { name: inst.name, status: 'pending' }
        const p: Running = { inst, abort, handle }
        started.push(p)
        const rt = deps.runtime(inst, abort.signal, handle)
        for (const start of inst.starts) {
          try { await start(rt) } catch (err) {
            await stopAll(started)
            throw new Error(`[plugin ${inst.name}] failed to start: ${(err as Error).message}`)
          }
        }
      }
      const old = current
      return {
        promote() {
          for (const p of old) p.handle.status = 'retired'
          for (const p of started) p.handle.status = 'current'
          current = started
        },
        retireOld: () => stopAll(old),
      }
    },
    async stop(): Promise<void> {
      await stopAll(current)
      current = []
    },
  }
}

export type PluginHost = ReturnType<typeof createPluginHost>
