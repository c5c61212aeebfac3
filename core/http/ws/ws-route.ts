import type { FastifyInstance } from 'fastify'
import type { HttpSurface } from '../master-surface.ts'
import { identify, type AuthState } from '../auth/auth-state.ts'
import { attachWsClient, createMessageEncoder } from './ws-client.ts'
import { originAllowed } from '../origin.ts'

export const DEFAULT_WS_MAX_BUFFERED = 4 * 1024 * 1024

/** `/ws`: the handshake needs a user allowed to read (`GET masters`, as Buildbot 4.3 checks). */
export function registerWsRoute(app: FastifyInstance, opts: { surface: HttpSurface; state: () => AuthState; maxBufferedBytes?: number }) {
  const { surface } = opts
  const encode = createMessageEncoder()
  app.get('/ws', {
    websocket: true,
    preValidation: async (req, reply) => {
      // A page on another site must not read events with the visitor's session.
      const state = opts.state()
      const origin = req.headers.origin
      if (origin && !originAllowed(origin, req.headers.host, state.allowedOrigins)) {
        return reply.code(403).header('content-type', 'text/plain; charset=utf-8').send('invalid origin')
      }
      const id = await identify(req, state)
      if ('error' in id) return reply.code(401).header('content-type', 'text/plain; charset=utf-8').send(id.error)
      if (!await state.authz.allowed({ action: 'get', endpoint: 'masters', project: null }, id.user)) {
        return reply.code(403).header('content-type', 'text/plain; charset=utf-8').send('forbidden')
      }
    },
  }, (socket) => {
    surface.metrics?.wsClient(1)
    socket.once('close', () => surface.metrics?.wsClient(-1))
    attachWsClient(socket, {
      bus: surface.bus, encode, maxBufferedBytes: opts.maxBufferedBytes ?? DEFAULT_WS_MAX_BUFFERED,
      onDrop: (reason) => surface.log.warn({ reason }, 'websocket client dropped'),
    })
  })
}
