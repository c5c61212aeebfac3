import type { BaseChangeHookConfig } from './base-change-hook.ts'
import type { SecretRef } from '../properties/renderable.ts'
import type { Bus } from '../bus/bus.ts'
import type { Data } from '../data/data.ts'
import type { Logger } from '../util/logger.ts'
import type { LoginProvider } from './auth/login-provider.ts'
import type { RoleMatcherFn } from './authz/role-matcher.ts'
import type { ProjectRef } from './authz/endpoint-matcher.ts'
import type { ProjectVisibilityFn } from './visibility.ts'

/** One field of a force scheduler, in Buildbot's `all_fields` spec shape. */
export interface ForceFieldSpec {
  name: string; fullName: string | null; label: string; tablabel: string; type: string; default: unknown
  required: boolean; multiple: boolean; regex: null; hide: boolean; maxsize: number | null; autopopulate: null
  tooltip: string; [extra: string]: unknown
}
export interface ForceSchedulerSpec {
  name: string; button_name: string; label: string; builder_names: string[]; enabled: boolean; all_fields: ForceFieldSpec[]
}

/** A force-form validation error: field fullName → message (Buildbot answers -32602 with it). */
export class ForceValidationError extends Error {
  constructor(readonly fields: Record<string, string>) {
    super(Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('; '))
    this.name = 'ForceValidationError'
  }
}

/** An error with an HTTP status and a message meant for the client. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); this.name = 'HttpError' }
}

export type BuildsetResult = [number, Record<string, number>]

/** What the control endpoints (JSON-RPC) can ask the master to do. */
export interface MasterControl {
  forceSchedulers(): ForceSchedulerSpec[]
  /**
   * The builders a `force` with these params would give requests to (`builderid`, a non-empty
   * `builderNames`, else all the scheduler's builders); authorisation is decided on them.
   * Throws HttpError 400 for builder names or ids the scheduler does not have, 404 for no scheduler.
   */
  forceTargets(schedulerName: string, params: Record<string, unknown>): string[]
  /** `params` as the client sent them; `owner` already resolved. Forces exactly `forceTargets(...)`. Throws ForceValidationError. */
  force(schedulerName: string, params: Record<string, unknown>, owner: string): Promise<BuildsetResult>
  stopBuild(buildid: number, reason: string): Promise<void>
  rebuild(buildid: number, owner: string): Promise<BuildsetResult>
  cancelBuildRequest(buildrequestid: number, reason: string): Promise<void>
  setBuildRequestPriority(buildrequestid: number, priority: number): Promise<void>
  enableScheduler(schedulerid: number, enabled: boolean): Promise<void>
  workerAction(workerid: number, action: 'stop' | 'pause' | 'unpause' | 'kill', reason: string): Promise<void>
}

/** A JSON-RPC action a plugin adds on a collection or entity path (e.g. `reload` on `projects`). */
export interface RpcAction {
  /** Path pattern in Buildbot's syntax, e.g. `projects` or `builds/n:buildid`. */
  path: string
  method: string
  /** Authz action name for endpoint matchers (e.g. `reload`). */
  authzAction: string
  handler(args: { params: Record<string, unknown>; path: Record<string, string | number>; user: UserInfo }): Promise<unknown>
  owner: string
}

/** A read endpoint a plugin adds under `/api/v2` (e.g. `builds/n:buildid/nixjobs`). */
export interface RestEndpoint {
  path: string
  plural: string
  kind: 'single' | 'collection'
  /** Returns entities; the REST layer applies field/filter/order/limit/offset on them. */
  get(args: { path: Record<string, string | number> }): Promise<Record<string, unknown>[] | undefined>
  /** The `/ws` key prefix of its events, documented for clients. */
  owner: string
}

/** A webhook handler mounted at `/change_hook/<dialect>`. */
export interface ChangeHookHandler {
  dialect: string
  owner: string
  /** Gets the raw body (for signature checks); answers with status and body. Must store nothing on a 4xx. */
  handle(req: { headers: Record<string, string | string[] | undefined>; rawBody: Buffer; query: Record<string, string> }): Promise<{ status: number; body: string; headers?: Record<string, string> }>
}

export interface UserInfo { anonymous?: boolean; username?: string; email?: string; full_name?: string; groups?: string[]; [k: string]: unknown }

/** Everything the HTTP layer gets from the master. */
export interface HttpSurface {
  data: Data
  bus: Bus
  control: MasterControl
  log: Logger
  title: string
  buildbotURL: string
  /** Read on every request: a reconfigure replaces it and the new auth and authz apply at once. */
  www: WwwConfig
  /** Login providers plugins registered; `www.auth` of kind `plugin` names one. */
  loginProviders(): LoginProvider[]
  /** Role matchers plugins added; asked with every rule check that needs roles. */
  roleMatchers(): RoleMatcherFn[]
  /** Plugins' answers to who may see a private project (`api.addProjectVisibility`); none: private projects are shown to everyone. */
  projectVisibility?(): ProjectVisibilityFn[]
  /** The project a builder belongs to (null when none), for authz targets. */
  projectOf(builderName: string): Promise<ProjectRef | null>
  rpcActions(): RpcAction[]
  restEndpoints(): RestEndpoint[]
  changeHooks(): ChangeHookHandler[]
  /** Directory with the built UI (index.html, app.js), if any. */
  uiDir?: string
  /** Prometheus text of the master and its plugins (`/metrics`); told of each `/ws` connection. */
  metrics?: { contentType: string; text(): Promise<string>; wsClient(delta: 1 | -1): void }
  /** Whether the master can take traffic (`/ready`): each check names what failed. */
  ready?(): Promise<{ ok: boolean; checks: Record<string, string> }>
  /** Resolves a secret master-side (the `/metrics` token). */
  secret?(name: string): Promise<string>
}

export interface AuthzRule {
  /** 'any' | 'control' | 'force' | 'stop' | 'rebuild' | 'cancel' | 'reload' | 'enable' | 'worker' (pause, unpause, stop, kill a worker) | 'view' */
  action: string
  /** fnmatch-style glob on a builder name, for force/stop/rebuild. */
  builder?: string
  role: string
  defaultDeny?: boolean
}
export interface RoleMatcher {
  kind: 'groups' | 'emails' | 'usernames' | 'owner' | 'domain'
  /** groups: prefix; emails/usernames/domain: role → values; owner: role name */
  groupPrefix?: string
  roles?: Record<string, string[]>
  role?: string
}
export interface WwwConfig {
  host: string
  port: number
  /**
   * `userpass`: the built-in login; users are name → scrypt hash `scrypt$<salt>$<hash>` (or plain, for tests).
   * `plugin`: the login provider a plugin registered under `name`.
   */
  auth: { kind: 'none' } | { kind: 'userpass'; users: Record<string, string> } | { kind: 'plugin'; name: string }
  authz: { rules: AuthzRule[]; roleMatchers: RoleMatcher[] } | 'default'
  /** 'public': reads open to anyone; 'private': reads need a logged-in user. */
  access: 'public' | 'private'
  allowedOrigins?: string[]
  /**
   * Extra names this master answers to, besides the host of `buildbotURL` and `www.host`
   * (fnmatch globs, e.g. `*.ci.example.org`). Requests naming any other `Host` are refused, so a
   * DNS-rebinding page cannot reach a master on loopback.
   */
  allowedHosts?: string[]
  cookieSecret?: string
  /** Built-in change hook dialects (Buildbot's `change_hook_dialects`); each is off unless configured. */
  changeHooks?: { base?: BaseChangeHookConfig }
  /**
   * `/metrics`: read like the REST API by default; with `token`, only `Authorization: Bearer <token>`
   * reads it (Prometheus' `authorization` / `bearer_token_file`); `false` turns it off.
   */
  metrics?: { token?: string | SecretRef } | false
}
