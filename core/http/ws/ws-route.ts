import type { FastifyInstance } from 'fastify'
import type { HttpSurface } from '../master-surface.ts'
import { identify, type AuthState } from '../auth/auth-state.ts'
import { attachWsClient, createMessageEncoder } from './ws-client.ts'
import { originAllowed } from '../origin.ts'
import { buildsetHidden, hiddenFor, namesSource, nothingHidden, NOTHING_HIDDEN, sourceHidden, type Hidden, type OwnershipIndex } from '../visibility.ts'
import type { UserInfo } from '../master-surface.ts'

const users = new WeakMap<object, UserInfo>()

export const DEFAULT_WS_MAX_BUFFERED = 4 * 1024 * 1024

/** `/ws`: the handshake needs a user allowed to read (`GET masters`, as Buildbot 4.3 checks). */
export function registerWsRoute(app: FastifyInstance, opts: { surface: HttpSurface; state: () => AuthState; ownership: OwnershipIndex; maxBufferedBytes?: number }) {
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
      users.set(req.raw, id.user)
    },
  }, (socket, req) => {
    surface.metrics?.wsClient(1)
    socket.once('close', () => surface.metrics?.wsClient(-1))
    // Private projects: events of hidden builders are not sent; what is hidden is asked again
    // when projects or builders change. Until the first answer, events naming a builder are dropped.
    const user = users.get(req.raw) ?? { anonymous: true }
    const fns = () => opts.surface.projectVisibility?.() ?? []
    let hidden: Hidden | undefined = fns().length ? undefined : NOTHING_HIDDEN
    const refresh = () => hiddenFor(surface.data.db.k, fns(), user, (err) => surface.log.error({ err }, 'a project visibility function failed; the project stays hidden'))
      .then((h) => { hidden = h }, (err) => surface.log.error({ err }, 'deciding which projects a websocket client may see failed'))
    const watch = hidden ? [] : [surface.bus.subscribe(['projects', null, null], () => void refresh()), surface.bus.subscribe(['builders', null, null], () => void refresh())]
    if (!hidden) void refresh()
    socket.once('close', () => { for (const w of watch) w.unsubscribe() })
    const visible = (key: readonly string[], message: unknown): boolean => {
      const h = hidden
      if (h && nothingHidden(h)) return true
      const m = (message && typeof message === 'object' ? message : {}) as Record<string, unknown>
      const builderid = opts.ownership.builderOf(key, message)
      const names = builderid !== undefined || ['builds', 'steps', 'logs', 'buildrequests', 'builders'].some((kind) => key.includes(kind))
      // Changes, sourcestamps and buildsets name a repository (or are a buildset): undecidable until the first answer.
      if (!h) return !names && typeof m.projectid !== 'number' && !namesSource(m) && m.bsid === undefined
      if (typeof m.projectid === 'number' && h.projects.has(m.projectid)) return false
      if (sourceHidden(h, m) || buildsetHidden(h, m, opts.ownership)) return false
      if (builderid !== undefined) return !h.builders.has(builderid)
      // A build, step or log whose builder is not known (made before this master started): fail closed.
      return !names
    }
    attachWsClient(socket, {
      visible,
      bus: surface.bus, encode, maxBufferedBytes: opts.maxBufferedBytes ?? DEFAULT_WS_MAX_BUFFERED,
      onDrop: (reason) => surface.log.warn({ reason }, 'websocket client dropped'),
    })
  })
}
