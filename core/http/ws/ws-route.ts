import type { FastifyInstance } from 'fastify'
import type { HttpSurface } from '../master-surface.ts'
import type { Authz } from '../authz/authz.ts'
import type { SessionCodec } from '../auth/session.ts'
import { attachWsClient, createMessageEncoder } from './ws-client.ts'
import { originAllowed } from '../origin.ts'

export const DEFAULT_WS_MAX_BUFFERED = 4 * 1024 * 1024

/** `/ws`: the handshake needs a user allowed to read (`GET masters`, as Buildbot 4.3 checks). */
export function registerWsRoute(app: FastifyInstance, opts: { surface: HttpSurface; authz: Authz; sessions: SessionCodec; maxBufferedBytes?: number }) {
  const { surface, authz, sessions } = opts
  const encode = createMessageEncoder()
  const allowedOrigins = surface.www.allowedOrigins ?? [new URL(surface.buildbotURL).origin]
  app.get('/ws', {
    websocket: true,
    preValidation: async (req, reply) => {
      // A page on another site must not read events with the visitor's session.
      const origin = req.headers.origin
      if (origin && !originAllowed(origin, req.headers.host, allowedOrigins)) {
        return reply.code(403).header('content-type', 'text/plain; charset=utf-8').send('invalid origin')
      }
      const user = sessions.userOf(req.headers.cookie)
      if (!authz.allowed({ action: 'get', endpoint: 'masters' }, user)) {
        return reply.code(403).header('content-type', 'text/plain; charset=utf-8').send('forbidden')
      }
    },
  }, (socket) => {
    attachWsClient(socket, {
      bus: surface.bus, encode, maxBufferedBytes: opts.maxBufferedBytes ?? DEFAULT_WS_MAX_BUFFERED,
      onDrop: (reason) => surface.log.warn({ reason }, 'websocket client dropped'),
    })
  })
}
