import { unavailableStorage } from '../db/storage-error.ts'
import Fastify, { type FastifyInstance } from 'fastify'
import websocket from '@fastify/websocket'
import cookie from '@fastify/cookie'
import type { HttpSurface } from './master-surface.ts'
import { authStateSource, identify } from './auth/auth-state.ts'
import { registerAuthRoutes } from './auth/auth-routes.ts'
import { hostRefusal } from './host-check.ts'
import { registerRestRoutes, API_BODY_LIMIT } from './rest/rest-route.ts'
import { registerWsRoute } from './ws/ws-route.ts'
import { registerChangeHookRoute } from './change-hook-route.ts'
import { registerUiRoutes } from './ui-routes.ts'
import { createOwnershipIndex } from './visibility.ts'
import { registerHealthRoutes, PROBE_PATHS } from './health-routes.ts'

export interface HttpServerOptions {
  /** Unsent bytes after which a `/ws` client is dropped (default 4 MiB). */
  wsMaxBufferedBytes?: number
}

export interface HttpServer {
  app: FastifyInstance
  /** Listens on `www.host:www.port` (port 0 = any free port). */
  listen(): Promise<{ port: number }>
  close(): Promise<void>
}

/**
 * The Buildbot-compatible HTTP surface: `/api/v2` (reads and JSON-RPC control), `/ws`,
 * `/config`, `/auth/*`, `/change_hook/<dialect>` and the UI. Auth and authz are derived from
 * `surface.www` on each request, so a reconfigure applies them at once. A request naming a
 * `Host` the master does not answer to is refused before any route runs.
 */
export function createHttpServer(surface: HttpSurface, opts: HttpServerOptions = {}): HttpServer {
  const app = Fastify({ logger: false, bodyLimit: API_BODY_LIMIT, return503OnClosing: true })
  const state = authStateSource(surface)
  // Private projects: which builder a build, step or log belongs to, learned as they are made.
  const ownership = createOwnershipIndex(surface.data.db.k, surface.bus)
  app.addHook('onClose', async () => ownership.close())

  // Every body stays raw: JSON-RPC answers its own parse errors, change hooks check signatures.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const unavailable = unavailableStorage(err)
    if (unavailable) err = Object.assign(unavailable, { statusCode: 503 })
    const status = err.statusCode ?? 500
    if (status >= 500) surface.log.error({ err, url: req.url }, 'http request failed')
    if (req.url.startsWith('/api/') && req.method === 'POST') {
      const message = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'request body too large' : err.message
      return reply.code(status).header('content-type', 'application/json').send(JSON.stringify({ jsonrpc: '2.0', error: { code: -32600, message } }))
    }
    return reply.code(status).header('content-type', 'text/plain; charset=utf-8').send(JSON.stringify({ error: status >= 500 && status !== 503 ? 'internal error' : err.message }))
  })

  // DNS rebinding: a page on an attacker's name re-pointed at this master's address must get nothing.
  app.addHook('onRequest', async (req, reply) => {
    if (req.method === 'GET' && PROBE_PATHS.has(req.url)) return
    const refused = hostRefusal(req.headers.host, state().allowedHosts)
    if (refused) return reply.code(refused.status).header('content-type', 'text/plain; charset=utf-8').send(refused.message)
  })
  app.register(cookie)
  app.register(websocket, { options: { maxPayload: 1024 * 1024 } })
  app.register(async (scope) => {
    // Fully private (a login provider with `requireIdentity`): nothing without an identity but
    // webhooks, the liveness and readiness probes, and /metrics when it has a token of its own.
    scope.addHook('onRequest', async (req, reply) => {
      const s = state()
      if (!s.provider?.requireIdentity || /^\/change_hook(\/|\?|$)/.test(req.url)) return
      if (req.method === 'GET' && (PROBE_PATHS.has(req.url) || (req.url === '/metrics' && s.www.metrics && s.www.metrics.token !== undefined))) return
      const id = await identify(req, s)
      if ('error' in id || id.user.anonymous) {
        const why = 'error' in id ? id.error : 'this master is private: open it through its sign-in proxy'
        return reply.code(401).header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store').send(why)
      }
    })
    registerRestRoutes(scope, { surface, state, ownership })
    registerWsRoute(scope, { surface, state, ownership, maxBufferedBytes: opts.wsMaxBufferedBytes })
    registerAuthRoutes(scope, { surface, state })
    registerChangeHookRoute(scope, surface)
    registerHealthRoutes(scope, { surface, state })
    registerUiRoutes(scope, { surface, state })
  })

  return {
    app,
    async listen() {
      await app.listen({ host: surface.www.host, port: surface.www.port })
      const addr = app.server.address()
      return { port: typeof addr === 'object' && addr ? addr.port : surface.www.port }
    },
    async close() { await app.close() },
  }
}
