import type { Bus } from '../bus/bus.ts'
import type { Db } from '../db/connect.ts'
import { createPluginStorage } from '../db/plugin-storage.ts'
import type { Data } from '../data/data.ts'
import type { ResolvedConfig, PluginInstance } from '../config/resolved-config.ts'
import type { PluginRuntime } from '../plugin/plugin.ts'
import type { BuildRequestDistributor } from '../process/build-request-distributor.ts'
import type { SchedulerHost } from '../scheduler-host.ts'
import type { SecretResolver } from '../secrets/secrets.ts'
import type { Logger } from '../util/logger.ts'
import type { ProjectRegistry } from '../projects/project-registry.ts'
import type { RuntimeParts } from './runtime-parts.ts'
import type { PluginHandle } from './plugin-host.ts'

export interface PluginRuntimeDeps {
  db: Db
  data: Data
  bus: Bus
  log: Logger
  secrets: SecretResolver
  schedulers: SchedulerHost
  brd: BuildRequestDistributor
  config: () => ResolvedConfig
  reconfigure(): Promise<void>
  projects: ProjectRegistry
  /** The runtime parts of one plugin instance. */
  parts(handle: PluginHandle): RuntimeParts
}

/** The running master's parts a plugin instance's start hooks get. */
export function createPluginRuntime(deps: PluginRuntimeDeps, inst: PluginInstance, signal: AbortSignal, handle: PluginHandle): PluginRuntime {
  const { data, bus, secrets, schedulers, brd } = deps
  const config = deps.config()
  return {
    data, bus, log: deps.log.child({ plugin: inst.name }), basedir: config.basedir,
    // Read when used: a master listening on port 0 knows its URL only once it listens.
    get buildbotURL() { return deps.config().buildbotURL },
    secret: (n) => secrets.get(n), signal, reconfigure: () => deps.reconfigure(),
    async cancelBuildsOf(source, reason) {
      const rows = await deps.db.k.selectFrom('buildsets')
        .innerJoin('buildset_sourcestamps', 'buildset_sourcestamps.buildsetid', 'buildsets.bsid')
        .innerJoin('sourcestamps', 'sourcestamps.ssid', 'buildset_sourcestamps.sourcestampid')
        .select('buildsets.bsid').where('buildsets.complete', '=', 0)
        .where('sourcestamps.repository', '=', source.repository).where('sourcestamps.branch', '=', source.branch).execute()
      const brids = await data.buildrequests.incompleteOfBuildsets([...new Set(rows.map((r) => r.bsid))])
      if (brids.length) await brd.cancelRequests(brids, reason)
      return brids.length
    },
    projects: { ...deps.projects, add: (spec, source = inst.name) => deps.projects.add(spec, source) },
    parts: deps.parts(handle),
    storage: <T>() => createPluginStorage<T>(deps.db, bus, inst.name),
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
}
