/**
 * The public surface of buildbot-nix for `master.config.ts` and plugins.
 *
 * @example
 * ```ts
 * import { defineMaster, localWorker, builder, steps, schedulers } from 'buildbot-nix'
 * export default defineMaster({
 *   workers: [localWorker({ name: 'local' })],
 *   builders: [builder({ name: 'hello', workers: ['local'], steps: [steps.shell({ command: ['echo', 'hi'] })] })],
 *   schedulers: [schedulers.force({ name: 'force', builderNames: ['hello'] })],
 * })
 * ```
 */
export { defineMaster, localWorker, worker } from './config/define-master.ts'
export type { MasterConfig, WorkerDecl, WwwInput } from './config/define-master.ts'
export { builder } from './process/builder-config.ts'
export type { BuilderConfig } from './process/builder-config.ts'
export { definePlugin } from './plugin/plugin.ts'
export type { PluginApi, PluginRuntime, PluginUse, PluginDefinition, PluginFactory } from './plugin/plugin.ts'
export { createKey } from './plugin/keys.ts'
/** zod, for plugin option schemas (`definePlugin({ options: z.strictObject({...}) })`); one copy shared with core. */
export { z } from 'zod'
export type { PluginMigration, PluginMigrationContext, PluginStorage, PendingEvents } from './db/plugin-storage.ts'
/** Query building for a plugin's own tables (`rt.storage<T>().db`). */
export { sql } from 'kysely'
export type { Kysely, Transaction, Generated, Selectable, Insertable, Updateable } from 'kysely'
export type { Key } from './plugin/keys.ts'
/** Prometheus metric types for `api.addMetrics(register => new Gauge({ name, help, registers: [register] }))`; one copy shared with core. */
export { Counter, Gauge, Histogram, Summary } from 'prom-client'
export type { Registry as MetricsRegistry } from 'prom-client'
export type { ProjectRegistry, ProjectSource, ProjectEvent, SourceReload, ProjectEntity, ProjectSpec } from './projects/project-registry.ts'
export type { PartsGroup, RuntimeParts } from './master/runtime-parts.ts'
export type { GitAccess, GitAccessProvider } from './util/git-access.ts'
export { secret, interpolate, property, renderer } from './properties/renderable.ts'
export type { Renderable, SecretRef, SecretOptions } from './properties/renderable.ts'
export { secretsFromDir, secretsFromEnv, secretsFromObject, SecretWithheldError, isSecretWithheld } from './secrets/secrets.ts'
export type { SecretsProvider } from './secrets/secrets.ts'
export * from './util/results.ts'
export type { StepContext, StepSpec, StepOptions, LogWriter, StepBuildInfo } from './process/step.ts'
export type { TriggerRequest, TriggeredBuildset } from './process/trigger-service.ts'
export type { SchedulerSpec, SchedulerServices, SchedulerRuntime } from './schedulers/scheduler.ts'
export type { ChangeSourceSpec, ChangeSourceServices } from './changes/change-source.ts'
export type { ReporterSpec, ReporterServices } from './reporters/reporter.ts'
export { statusReporter, sendOutcomeOf } from './reporters/status-reporter.ts'
export type { StatusReporter, StatusReporterOptions, SendOutcome, BuildStatusEvent } from './reporters/status-reporter.ts'
export type { StatusUpdate, StatusState, QueuedStatus } from './data/status-outbox.ts'
export { createHook } from './plugin/hooks.ts'
export type { Hook, HookHandler, HookOptions } from './plugin/hooks.ts'
export type { ChangeFilter } from './schedulers/change-filter.ts'
export type { ChangeSpec, ChangeEntity } from './data/changes.ts'
export type { ChangeHookHandler, RpcAction, RestEndpoint, UserInfo } from './http/master-surface.ts'
/** Thrown by a plugin's JSON-RPC action or REST endpoint: answered with its status and message (never a 500). */
export { HttpError } from './http/master-surface.ts'
export type { LoginProvider, LoginUser, LoginStart, LoginCallback, ProxiedRequest, RequestIdentity } from './http/auth/login-provider.ts'
/**
 * API tokens for a plugin's login provider (`auth/tokens` JSON-RPC, `Authorization: Bearer bbn_…`).
 *
 * @example
 *   const tokens = addApiTokens(api)
 *   api.addLoginProvider({ ..., apiTokens: true, fromAuthorization: (h) => tokens.fromAuthorization(h) })
 *   // a role matcher lets signed-in users manage their own: target.authzAction === TOKENS_AUTHZ
 */
export { addApiTokens, TOKEN_PREFIX, TOKENS_AUTHZ, type ApiTokens } from './http/auth/api-tokens.ts'
/**
 * Python's `fnmatch.fnmatchcase` (Buildbot's authz and buildbot-nix's branch globs): `*` any text
 * (slashes too), `?` one character, `[seq]` / `[!seq]` a class, everything else literal.
 *
 * @example
 *   fnmatch('release/1.2', 'release/*') // true
 */
export { fnmatch } from './http/authz/fnmatch.ts'
export type { RoleMatcherFn, RoleMatcherOptions } from './http/authz/role-matcher.ts'
export type { AuthzTarget, ProjectRef } from './http/authz/endpoint-matcher.ts'
export type { ProjectVisibilityFn, PrivateProject } from './http/visibility.ts'
export type { WorkerConnection, RemoteCommand, CommandResult } from './workers/worker-connection.ts'
export { minimalEnvironment, PASSED_ENVIRONMENT } from './workers/local/minimal-environment.ts'
export type { Data } from './data/data.ts'
export type { Bus } from './bus/bus.ts'
export type { Logger } from './util/logger.ts'
export { createMaster } from './master.ts'
export type { Master } from './master.ts'
export { loadConfig } from './config/load.ts'
export { resolveConfig } from './config/resolve.ts'
export { ConfigError } from './config/errors.ts'
export { hashPassword } from './http/auth/password.ts'
/** The `buildbot-nix` command line (`start`, `checkconfig`, `hash-password`). */
export { main } from './cli/main.ts'

import { shell } from './steps/shell.ts'
import { setProperty } from './steps/set-property.ts'
import { setPropertyFromCommand } from './steps/set-property-from-command.ts'
import { trigger } from './steps/trigger.ts'
import { git } from './steps/git.ts'
import { customStep } from './steps/custom.ts'
import { singleBranch, anyBranch } from './schedulers/branch-schedulers.ts'
import { force } from './schedulers/force.ts'
import { forceParams } from './schedulers/force-parameters.ts'
import { triggerable } from './schedulers/triggerable.ts'
import { nightly, periodic } from './schedulers/timed.ts'
import { gitPoller } from './changes/git-poller.ts'

/** Build steps: `steps.shell({ command: ['make'] })`, `steps.git({ repourl })`, `steps.trigger({...})`, ... */
export const steps = { shell, setProperty, setPropertyFromCommand, trigger, git, custom: customStep }
/** Schedulers: `schedulers.singleBranch`, `anyBranch`, `force`, `triggerable`, `nightly`, `periodic`. */
export const schedulers = { singleBranch, anyBranch, force, triggerable, nightly, periodic, params: forceParams }
/** Change sources: `changes.gitPoller({ repourl, branches, pollInterval })`. */
export const changes = { gitPoller }
