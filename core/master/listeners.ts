import type { Bus } from '../bus/bus.ts'
import type { Data } from '../data/data.ts'
import type { ResolvedConfig } from '../config/resolved-config.ts'
import { createHttpServer } from '../http/server.ts'
import type { HttpSurface, MasterControl, RpcAction } from '../http/master-surface.ts'
import type { MsgpackListener } from '../workers/msgpack/msgpack-listener.ts'
import type { WorkerManager } from '../workers/worker-manager.ts'
import type { Logger } from '../util/logger.ts'
import { sessionSecret } from './session-secret.ts'
import { createBaseChangeHook } from '../http/base-change-hook.ts'
import { projectOfBuilder } from '../data/project-of-builder.ts'

export interface ListenerDeps {
  data: Data
  bus: Bus
  log: Logger
  control: MasterControl
  workers: WorkerManager
  config: () => ResolvedConfig
  /** JSON-RPC actions of core itself (before the plugins'). */
  rpcActions: RpcAction[]
  /** Resolves a secret master-side (the base change hook's shared secret). */
  secret(name: string): Promise<string>
  uiDir?: string
  metrics?: HttpSurface['metrics']
  ready?: HttpSurface['ready']
}

/**
 * The HTTP server (REST, JSON-RPC, `/ws`, change hooks, UI) and the msgpack worker listener.
 * `buildbotURL` is the configured one with the real port when `www.port` was 0.
 */
export async function startListeners(deps: ListenerDeps) {
  const { data, bus, log } = deps
  const config = deps.config()
  const cookieSecret = await sessionSecret(data)
  const ports = { www: 0, msgpack: 0 }
  // `www` and `buildbotURL` follow the current config, so a reconfigure's auth, authz and
  // allowed hosts apply at once; `www` keeps its identity while the config's does not change.
  let www: { from: ResolvedConfig['www']; value: HttpSurface['www'] } | undefined
  /** `www.port: 0` picks a free port; links must name the real one. */
  const realURL = (u: string) => {
    const url = new URL(u)
    if (url.port !== '0' || !ports.www) return u
    url.port = String(ports.www)
    return url.href
  }
  const surface: HttpSurface = {
    data, bus, log, title: config.title, uiDir: deps.uiDir,
    get buildbotURL() { return realURL(deps.config().buildbotURL) },
    get www() {
      const from = deps.config().www
      if (www?.from !== from) www = { from, value: { ...from, cookieSecret: from.cookieSecret ?? cookieSecret } }
      return www.value
    },
    control: deps.control,
    rpcActions: () => [...deps.rpcActions, ...deps.config().rpcActions], restEndpoints: () => deps.config().restEndpoints, changeHooks: () => {
      // The built-in `base` dialect, when configured; read per request so a reconfigure applies.
      const c = deps.config()
      const base = c.www.changeHooks?.base
      return base ? [createBaseChangeHook({ config: base, secret: deps.secret, addChange: (spec) => data.changes.addChange(spec), log }), ...c.changeHooks] : c.changeHooks
    },
    loginProviders: () => deps.config().loginProviders, roleMatchers: () => deps.config().roleMatchers,
    projectVisibility: () => deps.config().projectVisibility,
    projectOf: (name) => projectOfBuilder(data, name),
    metrics: deps.metrics, ready: deps.ready, secret: deps.secret,
  }
  const http = createHttpServer(surface)
  ports.www = (await http.listen()).port
  let msgpack: MsgpackListener | undefined
  if (config.msgpack) {
    const { createMsgpackListener } = await import('../workers/msgpack/msgpack-listener.ts')
    msgpack = createMsgpackListener({ host: config.msgpack.host, port: config.msgpack.port, registry: deps.workers, log, settings: { buffer_timeout: 0.1 } })
    ports.msgpack = (await msgpack.start()).port
  }
  return {
    ports,
    buildbotURL: surface.buildbotURL,
    async close(): Promise<void> {
      await http.close()
      await msgpack?.stop()
    },
  }
}

export type Listeners = Awaited<ReturnType<typeof startListeners>>
