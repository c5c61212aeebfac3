import type { Bus } from '../bus/bus.ts'
import type { Data } from '../data/data.ts'
import type { ResolvedConfig } from '../config/resolved-config.ts'
import { createHttpServer } from '../http/server.ts'
import type { HttpSurface, MasterControl } from '../http/master-surface.ts'
import type { MsgpackListener } from '../workers/msgpack/msgpack-listener.ts'
import type { WorkerManager } from '../workers/worker-manager.ts'
import type { Logger } from '../util/logger.ts'
import { sessionSecret } from './session-secret.ts'

export interface ListenerDeps {
  data: Data
  bus: Bus
  log: Logger
  control: MasterControl
  workers: WorkerManager
  config: () => ResolvedConfig
  uiDir?: string
}

/**
 * The HTTP server (REST, JSON-RPC, `/ws`, change hooks, UI) and the msgpack worker listener.
 * `buildbotURL` is the configured one with the real port when `www.port` was 0.
 */
export async function startListeners(deps: ListenerDeps) {
  const { data, bus, log } = deps
  const config = deps.config()
  const surface: HttpSurface = {
    data, bus, log, title: config.title, buildbotURL: config.buildbotURL, www: { ...config.www, cookieSecret: config.www.cookieSecret ?? await sessionSecret(data) }, uiDir: deps.uiDir,
    control: deps.control,
    rpcActions: () => deps.config().rpcActions, restEndpoints: () => deps.config().restEndpoints, changeHooks: () => deps.config().changeHooks,
  }
  const http = createHttpServer(surface)
  const ports = { www: (await http.listen()).port, msgpack: 0 }
  const url = new URL(config.buildbotURL)
  if (url.port === '0') {
    // `www.port: 0` picks a free port; links must name the real one.
    url.port = String(ports.www)
    surface.buildbotURL = url.href
  }
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
