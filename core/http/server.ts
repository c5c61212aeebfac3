import Fastify, { type FastifyInstance } from 'fastify'
import websocket from '@fastify/websocket'
import type { HttpSurface } from './master-surface.ts'
import { createAuthz, policyFromWww } from './authz/authz.ts'
import { createSessionCodec } from './auth/session.ts'
import { registerAuthRoutes } from './auth/auth-routes.ts'
import { registerRestRoutes, API_BODY_LIMIT } from './rest/rest-route.ts'
import { registerWsRoute } from './ws/ws-route.ts'
import { registerChangeHookRoute } from './change-hook-route.ts'
import { registerUiRoutes } from './ui-routes.ts'

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
 * `/config`, `/auth/login|logout`, `/change_hook/<dialect>` and the UI.
 */
export function createHttpServer(surface: HttpSurface, opts: HttpServerOptions = {}): HttpServer {
  const app = Fastify({ logger: false, bodyLimit: API_BODY_LIMIT, return503OnClosing: true })
  const authz = createAuthz(policyFromWww(surface.www))
  const sessions = createSessionCodec({ secret: surface.www.cookieSecret, secure: surface.buildbotURL.startsWith('https:') })

  // Every body stays raw: JSON-RPC answers its own parse errors, change hooks check signatures.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err.statusCode ?? 500
    if (status >= 500) surface.log.error({ err, url: req.url }, 'http request failed')
    if (req.url.startsWith('/api/') && req.method === 'POST') {
      const message = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'request body too large' : err.message
      return reply.code(status).header('content-type', 'application/json').send(JSON.stringify({ jsonrpc: '2.0', error: { code: -32600, message } }))
    }
    return reply.code(status).header('content-type', 'text/plain; charset=utf-8').send(JSON.stringify({ error: status >= 500 ? 'internal error' : err.message }))
  })

  app.register(websocket, { options: { maxPayload: 1024 * 1024 } })
  app.register(async (scope) => {
    registerRestRoutes(scope, { surface, authz, sessions })
    registerWsRoute(scope, { surface, authz, sessions, maxBufferedBytes: opts.wsMaxBufferedBytes })
    registerAuthRoutes(scope, { surface, sessions })
    registerChangeHookRoute(scope, surface)
    registerUiRoutes(scope, { surface, authz, sessions })
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
