import type { Db } from '../db/connect.ts'
import { migratePlugin } from '../db/plugin-storage.ts'
import type { PluginInstance } from '../config/resolved-config.ts'
import type { PluginRuntime } from '../plugin/plugin.ts'
import type { Logger } from '../util/logger.ts'

interface Running { inst: PluginInstance; abort: AbortController }

/**
 * Starts and stops plugin instances. Every instance of a new configuration is started: its
 * setup ran again for that configuration, so keeping an old running instance would leave the new
 * registrations without a runtime.
 */
export function createPluginHost(deps: { db: Db; log: Logger; runtime(inst: PluginInstance, signal: AbortSignal): PluginRuntime }) {
  const running = new Map<string, Running>()

  async function stopOne(p: Running): Promise<void> {
    p.abort.abort()
    for (const stop of [...p.inst.stops].reverse()) {
      try { await stop() } catch (err) { deps.log.error({ plugin: p.inst.name, err: (err as Error).message }, 'a plugin failed to stop') }
    }
  }

  return {
    async apply(instances: PluginInstance[]): Promise<void> {
      // Each plugin's tables are brought up to date first, in dependency order (setup order), while
      // the running instances still run: a migration that fails leaves them as they are.
      for (const inst of instances) await migratePlugin(deps.db, inst.name, inst.migrations)
      for (const [name, p] of [...running].reverse()) { await stopOne(p); running.delete(name) }
      for (const inst of instances) {
        const abort = new AbortController()
        const rt = deps.runtime(inst, abort.signal)
        running.set(inst.name, { inst, abort })
        for (const start of inst.starts) {
          try { await start(rt) } catch (err) { throw new Error(`[plugin ${inst.name}] failed to start: ${(err as Error).message}`) }
        }
      }
    },
    async stop(): Promise<void> {
      for (const [, p] of [...running].reverse()) await stopOne(p)
      running.clear()
    },
  }
}

export type PluginHost = ReturnType<typeof createPluginHost>
