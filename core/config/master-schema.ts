import { z } from 'zod'
import { parseDbUrl } from '../db/connect.ts'
import { isSecretRef, type SecretRef } from '../properties/renderable.ts'
import type { BuilderConfig } from '../process/builder-config.ts'
import type { SchedulerSpec } from '../schedulers/scheduler.ts'
import type { ChangeSourceSpec } from '../changes/change-source.ts'
import type { ReporterSpec } from '../reporters/reporter.ts'
import type { PluginUse } from '../plugin/plugin.ts'
import type { SecretsProvider } from '../secrets/secrets.ts'
import type { AuthzRule, RoleMatcher } from '../http/master-surface.ts'
import { madeBy } from './schema-check.ts'
import { PROVIDER_NAME_RE } from '../http/auth/login-provider.ts'

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const ofKind = (kind: string) => (v: unknown) => isObj(v) && v.kind === kind

/** A TCP port; 0 picks a free one. */
const portError = { error: (iss: { input?: unknown }) => `must be a port number 0-65535, got ${JSON.stringify(iss.input)}` }
export const portSchema = z.number().int(portError).min(0, portError).max(65535, portError).meta({ examples: [8010] })

export const secretRefSchema = madeBy<SecretRef>(isSecretRef, "must be secret('name')", "a secret reference made with secret('name')")

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.\/+@:-]*$/

export const workerSchema = z.strictObject({
  kind: z.literal('worker', { error: 'must be made with worker({...}) or localWorker({...})' }),
  type: z.enum(['local', 'remote']),
  name: z.string().regex(NAME_RE, { error: (iss) => `'${String(iss.input)}' is not a valid worker name (letters, digits, _ . - only)` }).meta({ examples: ['local'] }),
  password: z.union([z.string().min(1), secretRefSchema]).meta({ description: "password of a remote buildbot-worker: secret('worker-pw') or a string" }).optional(),
  maxBuilds: z.number().int().min(1).meta({ description: 'builds it runs at once' }).optional(),
  properties: z.record(z.string(), z.unknown()).optional(),
  basedir: z.string().meta({ description: 'local workers: directory for builder folders' }).optional(),
  passEnvironment: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: (iss) => `'${String(iss.input)}' is not an environment variable name` }))
    .meta({ description: "local workers: the master's environment variables builds also get", examples: [['SSH_AUTH_SOCK']] }).optional(),
}, { error: (iss) => (iss.code === 'invalid_type' ? 'must be made with worker({...}) or localWorker({...})' : undefined) })
  .superRefine((w, ctx) => {
    if (w.type === 'remote' && (w.password == null || w.password === '')) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: "a remote worker needs a password: worker({ name, password: secret('worker-pw') })" })
    }
  }, { when: (p) => isObj(p.value) && (p.value as { type?: unknown }).type === 'remote' })
  .meta({ description: "made with worker({ name, password }) (a buildbot-worker that connects) or localWorker({ name }) (commands run on the master's machine)" })

const passwordHash = z.string().regex(/^scrypt\$[^$]+\$[^$]+$/, { error: "must be a password hash made by hashPassword('...') (`npx buildbot-nix hash-password`)" })

const authzRuleSchema = z.strictObject({
  action: z.string().meta({ description: "'any' | 'control' | 'force' | 'stop' | 'rebuild' | 'cancel' | 'reload' | 'enable' | 'worker' | 'view'" }),
  builder: z.string().meta({ description: 'fnmatch-style glob on a builder name' }).optional(),
  role: z.string(),
  defaultDeny: z.boolean().optional(),
}) satisfies z.ZodType<AuthzRule>

export const wwwSchema = z.strictObject({
  host: z.string().meta({ description: 'address the web UI and API listen on (default 127.0.0.1)' }).optional(),
  port: portSchema.meta({ description: 'port of the web UI and API (default 8010; 0 picks a free one)' }).optional(),
  auth: z.union([
    z.strictObject({ users: z.record(z.string(), passwordHash) }).meta({ description: "the built-in login: { users: { alice: hashPassword('...') } }" }),
    z.strictObject({ provider: z.string().regex(PROVIDER_NAME_RE, { error: "must be the name of a plugin's login provider, e.g. { provider: 'github' }" }) })
      .meta({ description: "the login provider a plugin registered: { provider: 'github' }" }),
  ], { error: (iss) => (iss.code === 'invalid_union' || iss.code === 'invalid_type' ? "must be { users: { name: hashPassword('...') } } or { provider: '<a plugin's login provider>' }" : undefined) })
    .meta({ description: "the built-in login ({ users }) or a plugin's login provider ({ provider })" }).nullable().optional(),
  authz: z.strictObject({
    rules: z.array(authzRuleSchema).optional(),
    roleMatchers: z.array(madeBy<RoleMatcher>(isObj, 'must be a role matcher object', 'maps a user to roles')).optional(),
  }).meta({ description: 'who may do what; default: logged-in users may control, everyone may view' }).optional(),
  access: z.enum(['public', 'private']).meta({ description: "'public': reads open to anyone; 'private': reads need a login" }).optional(),
  allowedOrigins: z.array(z.string()).meta({ description: 'origins (besides buildbotURL) allowed to make requests' }).optional(),
  allowedHosts: z.array(z.string().min(1))
    .meta({ description: 'host names (globs) this master also answers to besides the host of buildbotURL and www.host; other Host headers are refused', examples: [['ci.example.org']] }).optional(),
  changeHooks: z.strictObject({
    base: z.strictObject({
      secret: z.union([z.string().min(8), secretRefSchema], { error: "the base hook needs a shared secret: secret('change-hook') from a secrets provider (or a string of at least 8 characters)" })
        .meta({ description: "the shared secret callers present (Authorization: Bearer <secret>, or as the Basic password)" }),
      trusted: z.boolean().meta({ description: "mark its changes as vouched for, so schedulers building untrusted input trust them (default false)" }).optional(),
    }, { error: (iss) => (iss.code === 'invalid_type' ? "must be { secret: secret('change-hook') } (a shared secret is required)" : undefined) })
      .meta({ description: "Buildbot's base change hook at /change_hook/base, off unless set (the way scripts inject changes)" }).nullable().optional(),
  }).meta({ description: "built-in change hooks (Buildbot's change_hook_dialects), each off unless set here" }).optional(),
  cookieSecret: z.string().meta({ description: 'key that signs session cookies (default: generated and stored in the database)' }).optional(),
  metrics: z.union([
    z.literal(false),
    z.strictObject({
      token: z.union([z.string().min(16), secretRefSchema], { error: "must be secret('metrics-token') from a secrets provider (or a string of at least 16 characters)" })
        .meta({ description: 'the bearer token scrapers present (Authorization: Bearer <token>); without it /metrics is read like the REST API' }).optional(),
    }),
  ], { error: "must be false (no /metrics) or { token?: secret('metrics-token') }" })
    .meta({ description: "GET /metrics (Prometheus): read like the REST API by default, only with a bearer token when { token } is set, off with false" }).optional(),
})

const builderSchema = madeBy<BuilderConfig>(ofKind('builder'), 'must be made with builder({...})', 'made with builder({ name, workers, steps })')
const schedulerSchema = madeBy<SchedulerSpec>(ofKind('scheduler'), 'must be made with schedulers.force(), schedulers.singleBranch(), ...', 'made with schedulers.singleBranch(), anyBranch(), force(), triggerable(), nightly() or periodic()')
const changeSourceSchema = madeBy<ChangeSourceSpec>(ofKind('changesource'), 'must be made with changes.gitPoller({...})', 'made with changes.gitPoller({ repourl, branches, pollInterval })')
const reporterSchema = madeBy<ReporterSpec>(ofKind('reporter'), 'must be a reporter spec', 'a reporter a plugin or the config made')
const pluginSchema = madeBy<PluginUse>(ofKind('plugin'), 'must be a plugin created with definePlugin(), called with its options: nix({...})', 'a plugin called with its options: nix({...})')
const secretsSchema = madeBy<SecretsProvider>(ofKind('secrets'), 'must be made with secretsFromDir(), secretsFromEnv() or secretsFromObject()', 'made with secretsFromDir(), secretsFromEnv() or secretsFromObject()')

const positive = (what: string, example: string) => z.number({ error: `must be a number of ${what}, e.g. ${example}` })
  .positive({ error: `must be more than 0 ${what} (leave the key out to keep everything), e.g. ${example}` })
  .max(1e9, { error: `must be at most 1e9 ${what}` })

export const retentionSchema = z.strictObject({
  logs: z.strictObject({
    olderThanDays: positive('days', 'olderThanDays: 30').meta({ description: "delete the contents of logs of builds finished more than this many days ago (Buildbot's logHorizon)" }).optional(),
    maxTotalMB: positive('megabytes', 'maxTotalMB: 2048').meta({ description: 'when stored log contents exceed this size, delete the oldest finished logs until they fit' }).optional(),
  }, { error: (iss) => (iss.code === 'invalid_type' ? 'must be { olderThanDays?: number, maxTotalMB?: number }' : undefined) }).optional(),
  builds: z.strictObject({
    olderThanDays: positive('days', 'olderThanDays: 365').meta({ description: "delete builds (with their steps and logs) finished more than this many days ago (Buildbot's build_data_horizon)" }).optional(),
  }, { error: (iss) => (iss.code === 'invalid_type' ? 'must be { olderThanDays?: number }' : undefined) }).optional(),
  intervalMinutes: positive('minutes', 'intervalMinutes: 60').meta({ description: 'minutes between two pruning passes (default 60; one also runs at start)' }).optional(),
}, { error: (iss) => (iss.code === 'invalid_type' ? "must be { logs?: { olderThanDays?, maxTotalMB? }, builds?: { olderThanDays? }, intervalMinutes? }" : undefined) })
  .meta({ description: 'what the janitor prunes: old or oversized logs, old builds; unfinished builds are never touched' })

/** Every key of `defineMaster({...})`; the arrays hold values made by functions, checked as such. */
export const masterShape = {
  title: z.string().meta({ description: 'shown in the UI', examples: ['CI'] }).optional(),
  titleURL: z.string().meta({ description: 'link of the title' }).optional(),
  buildbotURL: z.string().check(z.refine((v) => { try { new URL(v); return true } catch { return false } },
    { error: (iss) => `'${String(iss.input)}' is not a URL; use e.g. 'https://ci.example.org/'` })).optional()
    .meta({ description: 'the URL users reach the UI at (default http://<www.host>:<www.port>/)' }),
  db: z.string().check(z.superRefine((v, ctx) => { try { parseDbUrl(v, '/') } catch (e) { ctx.addIssue({ code: 'custom', message: (e as Error).message, input: v }) } })).optional()
    .meta({ description: "'sqlite:state.sqlite' (relative to basedir; the default is sqlite:db/state.sqlite) or 'postgresql://user@host/db'" }),
  basedir: z.string().meta({ description: 'directory for state, relative to the config file (default state)' }).optional(),
  www: wwwSchema.optional(),
  workers: z.array(workerSchema).optional(),
  protocols: z.strictObject({
    msgpack: z.strictObject({ port: portSchema, host: z.string().optional() }).meta({ description: "buildbot-worker's protocol; Buildbot's default port is 9989" }).optional(),
  }).optional(),
  changeSources: z.array(changeSourceSchema).optional(),
  schedulers: z.array(schedulerSchema).optional(),
  builders: z.array(builderSchema).optional(),
  reporters: z.array(reporterSchema).optional(),
  plugins: z.array(pluginSchema).optional(),
  secretsProviders: z.array(secretsSchema).optional(),
  collapseRequests: z.boolean().meta({ description: "merge compatible pending build requests (Buildbot's default: true)" }).optional(),
  properties: z.record(z.string(), z.unknown()).meta({ description: 'global build properties' }).optional(),
  retention: retentionSchema.optional(),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
  masterName: z.string().meta({ description: 'a name unique among masters sharing a database (default: host name + basedir)' }).optional(),
  __master: z.literal(true).optional(),
}

/** The whole master config (`defineMaster({...})`). */
export const masterSchema = z.strictObject(masterShape)
