import type { FastifyInstance } from 'fastify'
import type { HttpSurface } from '../master-surface.ts'
import type { Authz } from '../authz/authz.ts'
import type { SessionCodec } from '../auth/session.ts'
import { attachWsClient, createMessageEncoder } from './ws-client.ts'

export const DEFAULT_WS_MAX_BUFFERED = 4 * 1024 * 1024

/** `/ws`: the handshake needs a user allowed to read (`GET masters`, as Buildbot 4.3 checks). */
export function registerWsRoute(app: FastifyInstance, opts: { surface: HttpSurface; authz: Authz; sessions: SessionCodec; maxBufferedBytes?: number }) {
  const { surface, authz, sessions } = opts
  const encode = createMessageEncoder()
  app.get('/ws', {
    websocket: true,
    preValidation: async (req, reply) => {
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
