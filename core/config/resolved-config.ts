import type { BuilderConfig } from '../process/builder-config.ts'
import type { SchedulerSpec } from '../schedulers/scheduler.ts'
import type { ChangeSourceSpec } from '../changes/change-source.ts'
import type { ReporterSpec } from '../reporters/reporter.ts'
import type { SecretsProvider } from '../secrets/secrets.ts'
import type { ChangeHookHandler, RestEndpoint, RpcAction, WwwConfig } from '../http/master-surface.ts'
import type { WorkerDecl } from './define-master.ts'
import type { PluginRuntime } from '../plugin/plugin.ts'
import type { ProjectSource } from '../projects/project-registry.ts'
import type { GitAccessProvider } from '../util/git-access.ts'
import type { PartsGroup } from '../master/parts-check.ts'
import type { LoginProvider } from '../http/auth/login-provider.ts'
import type { RoleMatcherFn } from '../http/authz/role-matcher.ts'
import type { ProjectVisibilityFn } from '../http/visibility.ts'
import type { PluginMigration } from '../db/plugin-storage.ts'
import type { Registry } from 'prom-client'
import type { RetentionConfig } from '../master/janitor.ts'

export interface Owned<T> { value: T; owner: string }

export interface PluginInstance {
  name: string
  starts: ((rt: PluginRuntime) => void | Promise<void>)[]
  stops: (() => void | Promise<void>)[]
  /** Schema steps by name (`addMigrations`), run before the plugin starts. */
  migrations: Record<string, PluginMigration>
  /** The plugin's Prometheus families (`api.addMetrics`), served at `/metrics` while this instance is current. */
  metrics?: Registry
}

/** The checked, frozen configuration the master runs. */
export interface ResolvedConfig {
  file: string
  basedir: string
  title: string
  titleURL: string
  buildbotURL: string
  db: string
  www: WwwConfig
  workers: Owned<WorkerDecl>[]
  msgpack: { port: number; host: string } | null
  changeSources: Owned<ChangeSourceSpec>[]
  schedulers: Owned<SchedulerSpec>[]
  builders: Owned<BuilderConfig>[]
  reporters: Owned<ReporterSpec>[]
  changeHooks: ChangeHookHandler[]
  rpcActions: RpcAction[]
  restEndpoints: RestEndpoint[]
  /** Login providers plugins registered (`www.auth.provider` names one). */
  loginProviders: (LoginProvider & { owner: string })[]
  roleMatchers: RoleMatcherFn[]
  projectVisibility: ProjectVisibilityFn[]
  plugins: PluginInstance[]
  /** Forge discovery the plugins registered (`api.addProjectSource`). */
  projectSources: Owned<ProjectSource>[]
  /** Credentials for git URLs the plugins registered (`api.addGitAccess`), asked in order. */
  gitAccess: Owned<GitAccessProvider>[]
  /** Groups the plugins will add at run time (`api.checkParts`), checked with this configuration. */
  plannedParts: { owner: string; key: string; group: PartsGroup }[]
  services: Map<string, unknown>
  secretsProviders: SecretsProvider[]
  collapseRequests: boolean
  properties: Record<string, unknown>
  /** What the janitor prunes (none when unset). */
  retention?: RetentionConfig
  logLevel: string
  masterName: string
}
