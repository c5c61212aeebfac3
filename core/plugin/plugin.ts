import type { z } from 'zod'
import type { Key } from './keys.ts'
import type { BuilderConfig } from '../process/builder-config.ts'
import type { SchedulerSpec } from '../schedulers/scheduler.ts'
import type { ChangeSourceSpec } from '../changes/change-source.ts'
import type { ReporterSpec } from '../reporters/reporter.ts'
import type { ChangeHookHandler, RestEndpoint, RpcAction } from '../http/master-surface.ts'
import type { LoginProvider } from '../http/auth/login-provider.ts'
import type { RoleMatcherFn, RoleMatcherOptions } from '../http/authz/role-matcher.ts'
import type { ProjectVisibilityFn } from '../http/visibility.ts'
import type { Data } from '../data/data.ts'
import type { Bus } from '../bus/bus.ts'
import type { Logger } from '../util/logger.ts'
import type { PluginMigration, PluginStorage } from '../db/plugin-storage.ts'
import type { ProjectRegistry, ProjectSource } from '../projects/project-registry.ts'
import type { PartsGroup, RuntimeParts } from '../master/runtime-parts.ts'
import type { Registry as MetricsRegistry } from 'prom-client'
import type { GitAccessProvider } from '../util/git-access.ts'

/** What a plugin's start hook gets: the running master's shared parts. */
export interface PluginRuntime {
  data: Data
  bus: Bus
  log: Logger
  basedir: string
  /** The master's URL (ends with `/`); read it when needed: it is final only once the master listens. */
  readonly buildbotURL: string
  /**
   * Resolves a secret master-side (a forge token for the plugin's own API calls). It knows no
   * build: code running for a build uses `ctx.secret()` or `ctx.render(secret())`, which
   * refuse in untrusted builds.
   */
  secret(name: string): Promise<string>
  /** Aborted when the plugin is stopped. */
  signal: AbortSignal
  /** Adds buildsets from a scheduler of this master by name (e.g. a plugin's force or rebuild). */
  scheduler(name: string): { addBuildset(spec: { reason: string; sourcestamps: { branch?: string | null; revision?: string | null; repository?: string; project?: string; codebase?: string }[]; properties?: Record<string, unknown>; builderNames?: string[]; trusted?: boolean }): Promise<{ bsid: number; brids: Record<number, number> }> } | undefined
  /** Asks the master to reload its configuration (plugins that discover projects use it). */
  reconfigure(): Promise<void>
  /**
   * Cancels the unfinished buildsets of a source (a forge's closed pull request: its repository
   * and branch): pending requests complete CANCELLED, running builds are stopped. Returns how
   * many requests were cancelled. Builds of other masters sharing the database are left alone.
   */
  cancelBuildsOf(source: { repository: string; branch: string }, reason: string): Promise<number>
  /**
   * The plugin's own tables (those its migrations made, named `<plugin>_…`), typed by `T`, and
   * `write`, which commits rows and then publishes their events.
   */
  storage<T>(): PluginStorage<T>
  /**
   * The project registry: the projects this master builds, changed at run time (`add` registers
   * on behalf of this plugin unless another source is named). `subscribe` hears every change.
   */
  projects: ProjectRegistry
  /**
   * Named groups of builders, schedulers and change sources this plugin adds and removes at run
   * time (`rt.parts.set('acme/app', { builders, schedulers, changeSources })`). A new instance
   * of the plugin (after a reconfigure) starts with none and sets the groups it wants.
   */
  parts: RuntimeParts
}

/** The only way a plugin reaches the master; every registration records the plugin as owner. */
export interface PluginApi {
  readonly name: string
  readonly basedir: string
  readonly buildbotURL: string
  addBuilder(b: BuilderConfig): void
  addScheduler(s: SchedulerSpec): void
  addChangeSource(c: ChangeSourceSpec): void
  addReporter(r: ReporterSpec): void
  addChangeHook(h: Omit<ChangeHookHandler, 'owner'>): void
  addRpcAction(a: Omit<RpcAction, 'owner'>): void
  addRestEndpoint(e: Omit<RestEndpoint, 'owner'>): void
  /**
   * A way to log in; `www.auth: { provider: '<name>' }` picks it. Core mounts
   * `/auth/<name>/login` and `/auth/<name>/callback` and keeps the session.
   */
  addLoginProvider(p: LoginProvider): void
  /**
   * Roles for a user on an authz target (its project included), asked by the authz rules. Not
   * asked for anonymous users unless `{ anonymous: true }`.
   */
  addRoleMatcher(m: RoleMatcherFn, opts?: RoleMatcherOptions): void
  /**
   * Who may see a private project (`private: true` in the registry): asked per user for each
   * private project; a project is hidden when any answer is false. Hidden projects' builders,
   * builds, steps and logs are left out of REST answers (a path naming one answers 404) and of
   * `/ws` events. Without any, private projects are shown to everyone (Buildbot's behaviour).
   */
  addProjectVisibility(fn: ProjectVisibilityFn): void
  /** Offers an API to other plugins under a typed key. */
  provide<T>(key: Key<T>, value: T): void
  /** Uses another plugin's API; the key must be in `requires`. */
  use<T>(key: Key<T>): T
  onStart(fn: (rt: PluginRuntime) => void | Promise<void>): void
  onStop(fn: () => void | Promise<void>): void
  /**
   * Declares the plugin's schema steps, run in name order at start (before any plugin starts, in
   * dependency order) on sqlite and PostgreSQL; each runs once per database. Tables must be named
   * `<plugin>_…`: `addMigrations({ '0001_jobs': { async up(db, ctx) { await db.schema.createTable('nix_jobs')… } } })`.
   */
  addMigrations(migrations: Readonly<Record<string, PluginMigration>>): void
  /**
   * Registers a project source (forge discovery): `discover()` lists the projects it finds. The
   * JSON-RPC `reload` on `projects` asks every source again; projects a source no longer lists
   * are removed from the registry.
   */
  addProjectSource(source: ProjectSource): void
  /**
   * Credentials for git URLs (a token for HTTPS, an SSH key with strict known_hosts): core's git
   * step, the git poller and the Nix plugin's merge step ask every provider, in plugin order, for
   * each URL they fetch and run git with the environment of the first answer. Secret values in it
   * are redacted from logs, state strings and properties.
   */
  addGitAccess(provider: GitAccessProvider): void
  /**
   * Checks a group the plugin will set at run time (`rt.parts.set`) with the configuration, so
   * `checkconfig` reports its mistakes (unknown workers, duplicate names) with the plugin's.
   */
  checkParts(key: string, group: PartsGroup): void
  /**
   * Adds the plugin's own Prometheus families to `GET /metrics`. `fn` runs at once with this
   * plugin instance's registry; create the metrics in it and keep them to update at run time:
   * `api.addMetrics((register) => { queue = new Gauge({ name: 'bbn_cache_upload_queue', help: '…', registers: [register] }) })`.
   * Names start with `bbn_<plugin>_` (the plugin's name, `-` as `_`), so no two plugins collide.
   * A reconfigure's new instance starts with fresh metrics (counters restart at 0, as after a restart).
   */
  addMetrics(fn: (register: MetricsRegistry) => void): void
  /** Reports a configuration mistake in the plugin's options (all are shown at once). */
  error(path: string, message: string): void
}

export interface PluginDefinition<O> {
  readonly name: string
  /** Keys of plugins that must be set up first. */
  readonly requires?: readonly Key<unknown>[]
  /** Keys this plugin provides (so others can depend on it). */
  readonly provides?: readonly Key<unknown>[]
  /**
   * A zod schema of the options: they are checked with the master config (key paths, unknown keys,
   * wrong types, every mistake at once), `setup` gets the parsed value, and `buildbot-nix
   * config-schema` prints it as JSON Schema.
   */
  readonly options?: z.ZodType<O, any>
  setup(api: PluginApi, options: O): void | Promise<void>
}

/** A plugin with its options, as listed in `plugins: [...]`. */
export interface PluginUse<O = unknown> {
  readonly kind: 'plugin'
  readonly definition: PluginDefinition<O>
  readonly options: unknown
}

/** What `definePlugin` returns: called with the options in `plugins: [...]`; its definition is kept for tools. */
export type PluginFactory<I, O> = ((options: I) => PluginUse<O>) & { readonly definition: PluginDefinition<O> }

/**
 * Declares a plugin. The result is called with the plugin's options in `master.config.ts`:
 * `plugins: [nix({ buildSystems: ['x86_64-linux'] })]`. With an `options` schema, the options'
 * type is inferred from it:
 * ```ts
 * export const hello = definePlugin({ name: 'hello', options: z.strictObject({ greeting: z.string() }), setup(api, o) { o.greeting } })
 * ```
 */
export function definePlugin<S extends z.ZodType>(definition: Omit<PluginDefinition<z.output<S>>, 'options' | 'setup'> & {
  readonly options: S
  setup(api: PluginApi, options: z.output<S>): void | Promise<void>
}): PluginFactory<z.input<S>, z.output<S>>
export function definePlugin<O>(definition: PluginDefinition<O>): PluginFactory<O, O>
export function definePlugin<O>(definition: PluginDefinition<O>): PluginFactory<O, O> {
  return Object.assign((options: O) => ({ kind: 'plugin' as const, definition, options }), { definition })
}
