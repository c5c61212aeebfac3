import type { BuilderConfig } from '../process/builder-config.ts'
import type { SchedulerSpec } from '../schedulers/scheduler.ts'
import type { ChangeSourceSpec } from '../changes/change-source.ts'
import type { ReporterSpec } from '../reporters/reporter.ts'
import type { PluginUse } from '../plugin/plugin.ts'
import type { SecretsProvider } from '../secrets/secrets.ts'
import type { AuthzRule, RoleMatcher } from '../http/master-surface.ts'
import type { SecretRef } from '../properties/renderable.ts'
import type { BaseChangeHookConfig } from '../http/base-change-hook.ts'
import type { RetentionConfig } from '../master/janitor.ts'

/** A worker declared in the config. */
export interface WorkerDecl {
  readonly kind: 'worker'
  readonly type: 'local' | 'remote'
  readonly name: string
  /** Password of a remote `buildbot-worker` (a secret reference or a string). */
  readonly password?: string | SecretRef
  /** Builds it runs at once (local default: 2 per CPU core, at least 4; remote default: no limit, as Buildbot). */
  readonly maxBuilds?: number
  readonly properties?: Record<string, unknown>
  /** Local workers: directory for builder folders (default `<basedir>/workers/<name>`). */
  readonly basedir?: string
  /**
   * Local workers: names of the master's environment variables builds also get (e.g.
   * `['SSH_AUTH_SOCK']`). Builds otherwise see only PATH, HOME, LANG, what nix needs and their steps' `env`.
   */
  readonly passEnvironment?: readonly string[]
}

/** An in-process worker: commands run on the master's machine. */
export function localWorker(opts: { name: string; maxBuilds?: number; basedir?: string; properties?: Record<string, unknown>; passEnvironment?: readonly string[] }): WorkerDecl {
  return { kind: 'worker', type: 'local', ...opts }
}
/** A real `buildbot-worker` that connects over msgpack_experimental_v7. */
export function worker(opts: { name: string; password: string | SecretRef; maxBuilds?: number; properties?: Record<string, unknown> }): WorkerDecl {
  return { kind: 'worker', type: 'remote', ...opts }
}

export interface WwwInput {
  host?: string
  port?: number
  /**
   * `{ users: { alice: hashPassword('...') } }` turns on the built-in login (a form in the UI,
   * HTTP Basic for scripts); `{ provider: 'github' }` uses the login provider a plugin registered.
   */
  auth?: { users: Record<string, string> } | { provider: string } | null
  authz?: { rules?: AuthzRule[]; roleMatchers?: RoleMatcher[] }
  access?: 'public' | 'private'
  allowedOrigins?: string[]
  /**
   * Host names this master also answers to, besides the host of `buildbotURL` and `www.host`
   * (globs such as `*.ci.example.org`); requests naming another `Host` are refused (DNS rebinding).
   */
  allowedHosts?: string[]
  cookieSecret?: string
  /**
   * Built-in change hooks (Buildbot's `change_hook_dialects`), each off unless set here.
   * `base: { secret: secret('change-hook') }` accepts Buildbot's `base` fields at
   * `/change_hook/base` from callers presenting the secret; `trusted: true` marks its changes as vouched for.
   */
  changeHooks?: { base?: BaseChangeHookConfig }
  /**
   * `GET /metrics` (Prometheus text). By default it is read like the REST API (anyone on a public
   * master, a login on a private one); `{ token: secret('metrics-token') }` makes scrapers present
   * `Authorization: Bearer <token>` instead; `false` turns it off. `/health` and `/ready` are always open.
   */
  metrics?: { token?: string | SecretRef } | false
}

export interface MasterConfig {
  title?: string
  titleURL?: string
  /** The URL users reach the UI at (default `http://<www.host>:<www.port>/`). */
  buildbotURL?: string
  /** `sqlite:state/state.sqlite` (default) or `postgresql://user@host/db`. */
  db?: string
  /** Directory for state (database, worker folders, mirrors), relative to the config file. */
  basedir?: string
  www?: WwwInput
  workers?: WorkerDecl[]
  protocols?: { msgpack?: { port: number; host?: string } }
  changeSources?: ChangeSourceSpec[]
  schedulers?: SchedulerSpec[]
  builders?: BuilderConfig[]
  reporters?: ReporterSpec[]
  plugins?: PluginUse<any>[]
  secretsProviders?: SecretsProvider[]
  /** Merge compatible pending build requests (Buildbot's default: true). */
  collapseRequests?: boolean
  /** Global build properties. */
  properties?: Record<string, unknown>
  /**
   * What the janitor prunes, once at start and every `intervalMinutes` (default 60):
   * `{ logs: { olderThanDays: 30, maxTotalMB: 2048 }, builds: { olderThanDays: 365 } }`.
   * Only finished builds are touched; nothing is pruned unless set.
   */
  retention?: RetentionConfig
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error'
  /** A name unique among masters sharing a database (default: host name + basedir). */
  masterName?: string
}

/**
 * Declares the master. `master.config.ts` default-exports the result:
 * ```ts
 * export default defineMaster({ title: 'CI', workers: [localWorker({ name: 'local' })], builders: [...] })
 * ```
 */
export function defineMaster(config: MasterConfig): MasterConfig & { readonly __master: true } {
  return Object.assign(Object.create(null), config, { __master: true as const })
}
