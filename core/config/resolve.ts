import { resolve as resolvePath, dirname } from 'node:path'
import { hostname } from 'node:os'
import { Cron } from 'croner'
import { Registry } from 'prom-client'
import type { z } from 'zod'
import { ConfigError, ConfigErrors, didYouMean } from './errors.ts'
import { masterShape } from './master-schema.ts'
import { checkWithSchema, typeName } from './schema-check.ts'
import type { WorkerDecl } from './define-master.ts'
import type { Owned, PluginInstance, ResolvedConfig } from './resolved-config.ts'
import type { PluginApi, PluginUse } from '../plugin/plugin.ts'
import type { BuilderConfig } from '../process/builder-config.ts'
import type { SchedulerSpec } from '../schedulers/scheduler.ts'
import type { ChangeSourceSpec } from '../changes/change-source.ts'
import type { ReporterSpec } from '../reporters/reporter.ts'
import type { ChangeHookHandler, RestEndpoint, RpcAction, WwwConfig } from '../http/master-surface.ts'
import type { TriggerOptions } from '../steps/trigger.ts'
import type { ProjectSource } from '../projects/project-registry.ts'
import type { GitAccessProvider } from '../util/git-access.ts'
import { checkParts, type PartsGroup } from '../master/parts-check.ts'
import { PROVIDER_NAME_RE } from '../http/auth/login-provider.ts'
import { USERPASS } from '../http/auth/userpass-provider.ts'

const BUILDER_KEYS = new Set(['kind', 'name', 'workers', 'steps', 'description', 'tags', 'project', 'properties', 'collapseRequests', 'builddir', 'priority', 'maxBuildsPerWorker'])
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function unknownKeys(errors: ConfigErrors, path: string, obj: Record<string, unknown>, allowed: Set<string>, owner?: string) {
  for (const k of Object.keys(obj)) {
    if (!allowed.has(k)) errors.add(path ? `${path}.${k}` : k, `unknown key '${k}'${didYouMean(k, allowed)}; remove it or fix its name`, owner)
  }
}

/**
 * Normalizes each section, runs plugin setup, then cross-checks names. Throws one ConfigError
 * listing every mistake (file, key path, fix); nothing starts from a config that fails here.
 */
export async function resolveConfig(input: unknown, file: string): Promise<ResolvedConfig> {
  const errors = new ConfigErrors()
  if (!isObj(input)) {
    throw new ConfigError(file, [], [`${file}: the default export must be defineMaster({...}), got ${input === undefined ? 'nothing' : typeof input}`])
  }
  const cfg = input as Record<string, unknown>
  for (const k of Object.keys(cfg)) {
    if (!(k in masterShape)) errors.add(k, `unknown key '${k}'${didYouMean(k, Object.keys(masterShape).filter((n) => !n.startsWith('__')))}; remove it or fix its name`)
  }
  /** One section checked by the master schema; a section with mistakes counts as absent (its mistakes are reported). */
  const section = <K extends keyof typeof masterShape>(key: K): z.output<(typeof masterShape)[K]> =>
    checkWithSchema(masterShape[key], cfg[key], key, errors) as z.output<(typeof masterShape)[K]>
  /** A list section, checked element by element so one bad element hides nothing else. */
  const indexed = <T>(key: 'workers' | 'builders' | 'schedulers' | 'changeSources' | 'reporters' | 'plugins' | 'secretsProviders', keepInvalid?: (v: unknown) => boolean): { value: T; index: number }[] => {
    const v = cfg[key]
    if (v === undefined) return []
    if (!Array.isArray(v)) { errors.add(key, `must be an array, got ${typeName(v)}`); return [] }
    const element = (masterShape[key].unwrap() as z.ZodArray<z.ZodType>).element
    const out: { value: T; index: number }[] = []
    v.forEach((item, index) => {
      // A worker not made by worker()/localWorker() gets that one message, not one per missing field.
      if (key === 'workers' && !(isObj(item) && item.kind === 'worker')) { errors.add(`${key}[${index}]`, 'must be made with worker({...}) or localWorker({...})'); return }
      const ok = checkWithSchema(element, item, `${key}[${index}]`, errors)
      if (ok !== undefined) out.push({ value: ok as T, index })
      else if (keepInvalid?.(item)) out.push({ value: item as T, index })
    })
    return out
  }
  const list = <T>(key: Parameters<typeof indexed>[0], keepInvalid?: (v: unknown) => boolean): T[] => indexed<T>(key, keepInvalid).map((e) => e.value)
  const title = section('title') ?? 'buildbot-nix'
  const basedir = resolvePath(dirname(file), section('basedir') ?? 'state')

  const w = section('www') ?? {}
  const host = w.host ?? '127.0.0.1'
  const port = w.port ?? 8010
  const www: WwwConfig = {
    host, port, access: w.access ?? 'public',
    auth: !w.auth ? { kind: 'none' } : 'provider' in w.auth ? { kind: 'plugin', name: w.auth.provider } : { kind: 'userpass', users: w.auth.users },
    authz: w.authz ? { rules: w.authz.rules ?? [], roleMatchers: w.authz.roleMatchers ?? [] } : 'default',
    allowedOrigins: w.allowedOrigins, allowedHosts: w.allowedHosts, cookieSecret: w.cookieSecret,
    changeHooks: w.changeHooks ? (w.changeHooks.base ? { base: { secret: w.changeHooks.base.secret, trusted: w.changeHooks.base.trusted === true } } : {}) : undefined,
    metrics: w.metrics,
  }
  let buildbotURL = section('buildbotURL') ?? `http://${LOOPBACK.has(host) || host === '0.0.0.0' ? (host === '0.0.0.0' ? 'localhost' : host) : host}:${port}/`
  if (!buildbotURL.endsWith('/')) buildbotURL += '/'
  const db = section('db') ?? 'sqlite:db/state.sqlite'

  const m = section('protocols')?.msgpack
  const msgpack: ResolvedConfig['msgpack'] = m ? { port: m.port, host: m.host ?? '0.0.0.0' } : null
  if (msgpack && msgpack.port !== 0 && msgpack.port === port) errors.add('protocols.msgpack.port', `port ${port} is also www.port; give the worker protocol its own port (Buildbot's default is 9989)`)

  const logLevel = section('logLevel') ?? process.env.LOG_LEVEL ?? 'info'

  // A worker with a mistake still counts as declared, so builders naming it get no second error.
  const workers: Owned<WorkerDecl>[] = list<WorkerDecl>('workers', (v) => isObj(v) && v.kind === 'worker' && typeof v.name === 'string')
    .map((value) => ({ value, owner: 'config' }))
  const builders: Owned<BuilderConfig>[] = list<BuilderConfig>('builders').map((value) => ({ value, owner: 'config' }))
  const schedulers: Owned<SchedulerSpec>[] = list<SchedulerSpec>('schedulers').map((value) => ({ value, owner: 'config' }))
  const changeSources: Owned<ChangeSourceSpec>[] = list<ChangeSourceSpec>('changeSources').map((value) => ({ value, owner: 'config' }))
  const reporters: Owned<ReporterSpec>[] = list<ReporterSpec>('reporters').map((value) => ({ value, owner: 'config' }))
  const secretsProviders = list<ResolvedConfig['secretsProviders'][number]>('secretsProviders')
  const collapseRequests = section('collapseRequests') ?? true
  const properties = section('properties') ?? {}
  const retention = section('retention')
  const masterName = section('masterName')
  const titleURL = section('titleURL') ?? 'https://github.com/nix-community/buildbot-nix'

  // Plugins: set up in dependency order; each registration records its owner.
  const changeHooks: ChangeHookHandler[] = []
  const rpcActions: RpcAction[] = []
  const restEndpoints: RestEndpoint[] = []
  const loginProviders: ResolvedConfig['loginProviders'] = []
  const roleMatchers: ResolvedConfig['roleMatchers'] = []
  const projectVisibility: ResolvedConfig['projectVisibility'] = []
  const services = new Map<string, unknown>()
  const plugins: PluginInstance[] = []
  const projectSources: Owned<ProjectSource>[] = []
  const gitAccess: Owned<GitAccessProvider>[] = []
  const partsToCheck: { owner: string; index: number; key: string; group: PartsGroup }[] = []
  const valid = indexed<PluginUse>('plugins').map(({ value, index }) => ({ use: value, index }))
  const seen = new Map<string, number>()
  for (const { use, index } of valid) {
    const prev = seen.get(use.definition.name)
    if (prev != null) errors.add(`plugins[${index}]`, `plugin '${use.definition.name}' is listed twice (also plugins[${prev}]); keep one`)
    else seen.set(use.definition.name, index)
  }
  const provided = new Map<string, string>()
  for (const { use } of valid) for (const k of use.definition.provides ?? []) provided.set(k.id, use.definition.name)
  const order: { use: PluginUse; index: number }[] = []
  const visiting = new Set<string>()
  const done = new Set<string>()
  const byName = new Map(valid.map((v) => [v.use.definition.name, v]))
  const visit = (v: { use: PluginUse; index: number }) => {
    const name = v.use.definition.name
    if (done.has(name)) return
    if (visiting.has(name)) { errors.add(`plugins[${v.index}]`, `plugin '${name}' is part of a dependency cycle`); return }
    visiting.add(name)
    for (const req of v.use.definition.requires ?? []) {
      const by = provided.get(req.id)
      if (!by) errors.add(`plugins[${v.index}]`, `plugin '${name}' requires '${req.id}', which no configured plugin provides; add that plugin to 'plugins'`)
      else visit(byName.get(by)!)
    }
    visiting.delete(name)
    done.add(name)
    order.push(v)
  }
  valid.forEach(visit)
  const skipped = new Set<string>()
  for (const { use, index } of order) {
    const owner = use.definition.name
    const inst: PluginInstance = { name: owner, starts: [], stops: [], migrations: {} }
    const allowed = new Set((use.definition.requires ?? []).map((k) => k.id))
    const api: PluginApi = {
      name: owner, basedir, buildbotURL,
      addBuilder: (b) => builders.push({ value: b, owner }),
      addScheduler: (s) => schedulers.push({ value: s, owner }),
      addChangeSource: (c) => changeSources.push({ value: c, owner }),
      addReporter: (r) => reporters.push({ value: r, owner }),
      addChangeHook: (h) => changeHooks.push({ ...h, owner }),
      addRpcAction: (a) => rpcActions.push({ ...a, owner }),
      addRestEndpoint: (e) => restEndpoints.push({ ...e, owner }),
      addLoginProvider: (p) => loginProviders.push({ ...p, owner }),
      addProjectVisibility: (fn) => projectVisibility.push(fn),
      addRoleMatcher: (m, o) => roleMatchers.push(o?.anonymous ? Object.assign((a: Parameters<typeof m>[0]) => m(a), { anonymous: true }) : m),
      provide: (key, value) => { services.set(key.id, value) },
      use: (key) => {
        if (!allowed.has(key.id)) throw new Error(`[plugin ${owner}] uses '${key.id}' without listing it in 'requires'`)
        if (!services.has(key.id)) throw new Error(`[plugin ${owner}] '${key.id}' is not provided`)
        return services.get(key.id) as never
      },
      onStart: (fn) => inst.starts.push(fn),
      onStop: (fn) => inst.stops.push(fn),
      addMigrations: (m) => {
        for (const [name, mig] of Object.entries(m)) {
          if (name in inst.migrations) errors.add(`plugins[${index}]`, `migration '${name}' is declared twice; give each migration its own name`, owner)
          else if (!mig || typeof mig.up !== 'function') errors.add(`plugins[${index}]`, `migration '${name}' needs an up(db, ctx) function`, owner)
          else inst.migrations[name] = mig
        }
      },
      addMetrics: (fn) => {
        const register = inst.metrics ??= new Registry()
        const before = new Set(register.getMetricsAsArray().map((m) => m.name))
        const prefix = `bbn_${owner.replace(/[^A-Za-z0-9_]/g, '_')}_`
        try { fn(register) } catch (err) { errors.add(`plugins[${index}]`, `addMetrics failed: ${(err as Error).message}`, owner); return }
        for (const m of register.getMetricsAsArray()) {
          if (before.has(m.name) || m.name.startsWith(prefix)) continue
          errors.add(`plugins[${index}]`, `metric '${m.name}' must be named '${prefix}…' (each plugin's metrics start with its own name)`, owner)
        }
      },
      addProjectSource: (src) => {
        if (!isObj(src) || typeof src.name !== 'string' || !src.name || typeof src.discover !== 'function') errors.add(`plugins[${index}]`, 'addProjectSource needs { name, discover() }', owner)
        else if (projectSources.some((p) => p.value.name === src.name)) errors.add(`plugins[${index}]`, `project source '${src.name}' is registered twice; give each source its own name`, owner)
        else projectSources.push({ value: src, owner })
      },
      addGitAccess: (p) => {
        if (!isObj(p) || typeof p.name !== 'string' || !p.name || typeof p.forUrl !== 'function') errors.add(`plugins[${index}]`, 'addGitAccess needs { name, forUrl(url) }', owner)
        else gitAccess.push({ value: p, owner })
      },
      checkParts: (key, group) => { partsToCheck.push({ owner, index, key, group }) },
      error: (path, message) => errors.add(`plugins[${index}].${path}`, message, owner),
    }
    // Options are checked by the plugin's schema; setup runs only with valid options (and only
    // when the plugins it needs could be set up), so one mistake is not followed by its echoes.
    const schema = use.definition.options
    const before = errors.issues.length
    const options = schema ? checkWithSchema(schema, use.options, `plugins[${index}]`, errors, owner) : use.options
    const blocked = (use.definition.requires ?? []).some((k) => skipped.has(provided.get(k.id) ?? ''))
    if (errors.issues.length > before || blocked) skipped.add(owner)
    else {
      try { await use.definition.setup(api, options) } catch (e) { errors.add(`plugins[${index}]`, (e as Error).message, owner) }
    }
    plugins.push(inst)
  }

  // Each component, then cross references.
  const workerNames = new Map<string, string>()
  workers.forEach(({ value }, i) => {
    if (workerNames.has(value.name)) errors.add(`workers[${i}].name`, `duplicate worker name '${value.name}'; worker names must be unique`)
    workerNames.set(value.name, `workers[${i}]`)
  })
  const builderNames = new Map<string, string>()
  const builderPaths = new Map<BuilderConfig, string>()
  builders.forEach(({ value: b, owner }, i) => {
    const path = owner === 'config' ? `builders[${i}]` : `builders (${owner})`
    const o = owner === 'config' ? undefined : owner
    if (!isObj(b) || b.kind !== 'builder') { errors.add(path, 'must be made with builder({...})', o); return }
    builderPaths.set(b, path)
    unknownKeys(errors, path, b as unknown as Record<string, unknown>, BUILDER_KEYS, o)
    if (typeof b.name !== 'string' || !b.name) errors.add(`${path}.name`, 'a builder needs a name', o)
    else if (builderNames.has(b.name)) errors.add(`${path}.name`, `duplicate builder name '${b.name}' (also ${builderNames.get(b.name)})`, o)
    else builderNames.set(b.name, path)
    if (!Array.isArray(b.workers) || !b.workers.length) errors.add(`${path}.workers`, "a builder needs at least one worker name, e.g. workers: ['local']", o)
    else b.workers.forEach((wn, j) => { if (!workerNames.has(wn)) errors.add(`${path}.workers[${j}]`, `no worker named '${wn}'${didYouMean(wn, workerNames.keys())}`, o) })
    if (b.maxBuildsPerWorker !== undefined && (!Number.isInteger(b.maxBuildsPerWorker) || b.maxBuildsPerWorker < 1)) errors.add(`${path}.maxBuildsPerWorker`, `must be a positive integer, got ${JSON.stringify(b.maxBuildsPerWorker)}`, o)
    if (!Array.isArray(b.steps) || !b.steps.length) errors.add(`${path}.steps`, 'a builder needs at least one step, e.g. steps.shell({ command: [...] })', o)
    else b.steps.forEach((s, j) => {
      if (!isObj(s) || (s as { kind?: unknown }).kind !== 'step') errors.add(`${path}.steps[${j}]`, 'must be a step made with steps.shell(), steps.git(), ...', o)
      else if (['shell', 'setPropertyFromCommand'].includes(String(s.type)) && (s.options as { command?: unknown }).command == null) errors.add(`${path}.steps[${j}].command`, "a shell step needs a command, e.g. steps.shell({ command: ['make', 'check'] })", o)
    })
  })
  const schedNames = new Map<string, SchedulerSpec>()
  schedulers.forEach(({ value: s, owner }, i) => {
    const path = owner === 'config' ? `schedulers[${i}]` : `schedulers (${owner})`
    const o = owner === 'config' ? undefined : owner
    if (!isObj(s) || s.kind !== 'scheduler') { errors.add(path, 'must be made with schedulers.force(), schedulers.singleBranch(), ...', o); return }
    if (schedNames.has(s.name)) errors.add(`${path}.name`, `duplicate scheduler name '${s.name}'`, o)
    schedNames.set(s.name, s)
    if (!Array.isArray(s.builderNames)) errors.add(`${path}.builderNames`, 'must be an array of builder names', o)
    else if (!s.builderNames.length) errors.add(`${path}.builderNames`, `scheduler '${s.name}' names no builder; list at least one in builderNames`, o)
    else s.builderNames.forEach((bn, j) => { if (!builderNames.has(bn)) errors.add(`${path}.builderNames[${j}]`, `no builder named '${bn}'${didYouMean(bn, builderNames.keys())}`, o) })
    const st = (s as unknown as { type: string; fingerprint: { cron?: string; tz?: string | null; timer?: number | null; every?: unknown } })
    if (st.type === 'nightly') {
      if (typeof st.fingerprint.cron !== 'string' || !st.fingerprint.cron) errors.add(`${path}.cron`, "a nightly scheduler needs a cron expression, e.g. cron: '0 3 * * *'", o)
      else { try { new Cron(st.fingerprint.cron, { paused: true }).stop() } catch (e) { errors.add(`${path}.cron`, `invalid cron expression '${st.fingerprint.cron}': ${(e as Error).message}`, o) } }
      if (st.fingerprint.tz) { try { new Intl.DateTimeFormat('en', { timeZone: st.fingerprint.tz }) } catch { errors.add(`${path}.timezone`, `unknown time zone '${st.fingerprint.tz}'; use an IANA name such as 'Europe/Berlin'`, o) } }
    }
    if (st.type === 'periodic' && !(typeof st.fingerprint.every === 'number' && st.fingerprint.every > 0)) errors.add(`${path}.periodicBuildTimer`, `must be a number of seconds above zero, got ${JSON.stringify(st.fingerprint.every)}`, o)
    if (typeof st.fingerprint.timer === 'number' && st.fingerprint.timer < 0) errors.add(`${path}.treeStableTimer`, 'must be zero or more seconds', o)
  })
  // Trigger steps must name triggerable schedulers.
  for (const { value: b, owner } of builders) {
    if (!isObj(b) || !Array.isArray(b.steps)) continue
    b.steps.forEach((step, j) => {
      if (!isObj(step) || step.type !== 'trigger') return
      const names = (step.options as TriggerOptions).schedulerNames ?? []
      names.forEach((n, k) => {
        const s = schedNames.get(n)
        const path = `${builderPaths.get(b) ?? b.name}.steps[${j}].schedulerNames[${k}]`
        if (!s) errors.add(path, `no scheduler named '${n}'${didYouMean(n, schedNames.keys())}`, owner === 'config' ? undefined : owner)
        else if (s.type !== 'triggerable') errors.add(path, `scheduler '${n}' is a ${s.type} scheduler; a Trigger step needs schedulers.triggerable({...})`, owner === 'config' ? undefined : owner)
      })
    })
  }
  const csNames = new Set<string>()
  changeSources.forEach(({ value: c, owner }, i) => {
    if (!isObj(c) || c.kind !== 'changesource') { errors.add(`changeSources[${i}]`, 'must be made with changes.gitPoller({...})'); return }
    if (csNames.has(c.name)) errors.add(`changeSources[${i}].name`, `duplicate change source '${c.name}'`, owner === 'config' ? undefined : owner)
    csNames.add(c.name)
  })
  const hooks = new Set<string>()
  if (www.changeHooks?.base) hooks.add('base')
  for (const h of changeHooks) {
    if (hooks.has(h.dialect)) errors.add('plugins', h.dialect === 'base' && www.changeHooks?.base ? "the plugin also handles /change_hook/base, which www.changeHooks.base turns on; keep one of them" : `two plugins handle /change_hook/${h.dialect}`, h.owner)
    hooks.add(h.dialect)
  }
  checkLoginProviders(errors, www, loginProviders)
  reporters.forEach(({ value: r }, i) => { if (!isObj(r) || r.kind !== 'reporter') errors.add(`reporters[${i}]`, 'must be a reporter spec') })

  // Groups plugins will add at run time, checked with the configured parts (and each other).
  const seenParts: PartsGroup[] = []
  for (const { owner, index, key, group } of partsToCheck) {
    const others = { builders: [...builders.map((b) => b.value), ...seenParts.flatMap((g) => g.builders ?? [])], schedulers: [...schedulers.map((x) => x.value), ...seenParts.flatMap((g) => g.schedulers ?? [])], changeSources: [...changeSources.map((c) => c.value), ...seenParts.flatMap((g) => g.changeSources ?? [])] }
    for (const msg of checkParts(key, group, others, new Set(workerNames.keys()))) errors.add(`plugins[${index}]`, msg, owner)
    seenParts.push(group)
  }

  if (!errors.empty) {
    const lines = errors.format(file)
    throw new ConfigError(file, errors.issues, lines)
  }
  const resolved: ResolvedConfig = {
    file, basedir, title, titleURL, buildbotURL, db, www,
    workers, msgpack, changeSources, schedulers, builders, reporters, changeHooks, rpcActions, restEndpoints, plugins, projectSources, gitAccess, plannedParts: partsToCheck.map(({ owner, key, group }) => ({ owner, key, group })), services,
    loginProviders, roleMatchers, projectVisibility,
    secretsProviders, collapseRequests, properties, logLevel, retention,
    masterName: masterName ?? `${hostname()}:${basedir}`,
  }
  return Object.freeze(resolved)
}

export const isLoopback = (host: string) => LOOPBACK.has(host)

/** Provider names are URL segments and unique; `www.auth.provider` must name one a plugin registered. */
function checkLoginProviders(errors: ConfigErrors, www: WwwConfig, providers: ResolvedConfig['loginProviders']) {
  const names = new Map<string, string>()
  for (const p of providers) {
    if (typeof p.name !== 'string' || !PROVIDER_NAME_RE.test(p.name)) errors.add('plugins', `login provider name '${String(p.name)}' must be letters, digits, - and _ (it is a URL segment)`, p.owner)
    else if (names.has(p.name)) errors.add('plugins', `two plugins register the login provider '${p.name}' (${names.get(p.name)} and ${p.owner})`, p.owner)
    else if (p.name === USERPASS) errors.add('plugins', `'${USERPASS}' is the built-in login (www.auth.users); name the provider differently`, p.owner)
    else names.set(p.name, p.owner)
    if (p.login?.kind === 'redirect' && typeof p.callback !== 'function') errors.add('plugins', `login provider '${p.name}' logs in by redirect but has no callback`, p.owner)
  }
  if (www.auth.kind === 'plugin' && !names.has(www.auth.name)) {
    const known = [...names.keys()]
    errors.add('www.auth.provider', `no plugin registers the login provider '${www.auth.name}'${didYouMean(www.auth.name, known)}; ` +
      (known.length ? `registered: ${known.join(', ')}` : "add the plugin that provides it to 'plugins', or use { users: {...} } for the built-in login"))
  }
}
