import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { HttpSurface } from '../master-surface.ts'
import { splitApiPath } from '../path-match.ts'
import { ForbiddenError } from '../authz/authz.ts'
import { csrfOk, CSRF_HEADER, CSRF_MESSAGE, identify, type AuthState } from '../auth/auth-state.ts'
import { originAllowed } from '../origin.ts'
import { createRestReader } from './rest-read.ts'
import { createRpcHandler } from '../rpc/jsonrpc.ts'
import { entityHidden, hiddenFor, nothingHidden, type OwnershipIndex } from '../visibility.ts'
import { pathHidden } from './hidden-path.ts'
import { unavailableStorage } from '../../db/storage-error.ts'

export const API_BODY_LIMIT = 1024 * 1024

/** `/api/v2` (and `/api/latest`): GET/HEAD reads, POST JSON-RPC, OPTIONS preflight, CORS. */
export function registerRestRoutes(app: FastifyInstance, opts: { surface: HttpSurface; state: () => AuthState; ownership: OwnershipIndex }) {
  const { surface } = opts
  const reader = createRestReader(surface)
  const rpc = createRpcHandler({ surface, pathExists: (s) => !!reader.match(s) })
  const rpcError = (reply: FastifyReply, status: number, message: string) =>
    reply.code(status).header('content-type', 'application/json').send(JSON.stringify({ jsonrpc: '2.0', error: { code: -32600, message } }))

  const textError = (reply: FastifyReply, status: number, message: string) =>
    reply.code(status).header('content-type', 'text/plain; charset=utf-8').send(JSON.stringify({ error: message }))

  async function handle(req: FastifyRequest, reply: FastifyReply, prefix: string) {
    const [rawPath, qs = ''] = req.url.split('?', 2) as [string, string?]
    const segments = splitApiPath(rawPath.slice(prefix.length))
    const state = opts.state()
    const { authz } = state
    const origin = req.headers.origin
    if (origin) {
      if (!originAllowed(origin, req.headers.host, state.allowedOrigins)) {
        return req.method === 'POST'
          ? reply.code(400).header('content-type', 'application/json').send(JSON.stringify({ error: { message: 'invalid origin' } }))
          : textError(reply, 400, 'invalid origin')
      }
      reply.header('access-control-allow-origin', origin).header('access-control-allow-headers', `Content-Type, ${CSRF_HEADER}`).header('access-control-max-age', '3600')
    }
    if (req.method === 'OPTIONS') {
      const want = String(req.headers['access-control-request-method'] ?? '').toUpperCase()
      if (want && !['GET', 'POST', 'HEAD'].includes(want)) return textError(reply, 400, 'invalid HTTP method')
      return reply.code(200).header('access-control-allow-methods', 'GET, POST, HEAD').send('')
    }
    const id = await identify(req, state)
    if ('error' in id) return req.method === 'POST' ? rpcError(reply, 401, id.error) : textError(reply, 401, id.error)
    const user = id.user
    switch (req.method) {
      case 'GET': case 'HEAD': {
        try { await authz.assertAllowed({ action: 'get', endpoint: segments[0], project: null }, user) } catch (e) {
          if (e instanceof ForbiddenError) return textError(reply, 403, e.message)
          throw e
        }
        const hidden = await hiddenFor(surface.data.db.k, surface.projectVisibility?.() ?? [], user, (err) => surface.log.error({ err }, 'a project visibility function failed; the project stays hidden'))
        if (!nothingHidden(hidden) && await pathHidden(surface.data.db.k, segments, hidden, opts.ownership)) {
          return textError(reply, 404, `not found: ${segments.join('/')}`)
        }
        const query = [...new URLSearchParams(qs)]
        let res
        try { res = await reader.read(segments, query) } catch (e) {
          surface.log.error({ err: e, path: segments.join('/') }, 'REST read failed')
          const unavailable = unavailableStorage(e)
          if (unavailable) return textError(reply, 503, unavailable.message)
          return textError(reply, 500, e instanceof Error ? `${e.name}(${JSON.stringify(e.message)})` : String(e))
        }
        if ('raw' in res) {
          reply.code(200).header('content-type', `${res.raw.mime}; charset=utf-8`)
          if (!res.inline && res.raw.filename) reply.header('content-disposition', `attachment; filename=${res.raw.filename}`)
          return reply.send(res.raw.body)
        }
        if (!nothingHidden(hidden) && res.status === 200) {
          for (const [key, value] of Object.entries(res.json as Record<string, unknown>)) {
            if (key === 'meta' || !Array.isArray(value)) continue
            await resolveBuildsetLinks(value, opts.ownership)
            const kept = value.filter((e) => !(e && typeof e === 'object' && entityHidden(hidden, e as Record<string, unknown>, opts.ownership)))
            ;(res.json as Record<string, unknown>)[key] = kept
            const meta = (res.json as { meta?: { total?: number } }).meta
            if (meta && typeof meta.total === 'number') meta.total -= value.length - kept.length
          }
        }
        if (res.status !== 200) return reply.code(res.status).header('content-type', 'text/plain; charset=utf-8').send(JSON.stringify(res.json))
        const compact = String(req.headers.accept ?? '').includes('application/json')
        return reply.code(200)
          .header('content-type', compact ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8')
          .send(compact ? JSON.stringify(res.json) : JSON.stringify(res.json, null, 2))
      }
      case 'POST': {
        if (!csrfOk(req, id, state)) return rpcError(reply, 403, CSRF_MESSAGE)
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
        const ans = await rpc(segments, req.headers['content-type'], body, user, authz)
        return reply.code(ans.status).header('content-type', 'application/json').send(ans.body)
      }
      default:
        return textError(reply, 400, 'invalid HTTP method')
    }
  }

  const methods = ['GET', 'HEAD', 'POST', 'OPTIONS', 'PUT', 'DELETE', 'PATCH'] as const
  for (const prefix of ['/api/v2', '/api/latest']) {
    for (const url of [prefix, `${prefix}/*`]) {
      app.route({ method: [...methods], url, exposeHeadRoute: false, bodyLimit: API_BODY_LIMIT, handler: (req, reply) => handle(req, reply, prefix) })
    }
  }
  app.get('/api', async (_req, reply) => reply.header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify({ api_versions: { v2: `${surface.buildbotURL}api/v2` } })))
}

/** Loads what decides a buildset's visibility (its builders, its parent build's builder) for the buildsets among `rows`. */
async function resolveBuildsetLinks(rows: unknown[], index: OwnershipIndex): Promise<void> {
  const sets = rows.filter((e): e is Record<string, unknown> => !!e && typeof e === 'object' && typeof (e as Record<string, unknown>).bsid === 'number' && (e as Record<string, unknown>).buildrequestid === undefined)
  if (!sets.length) return
  await index.resolveBuildsets(sets.map((e) => e.bsid as number))
  for (const parent of new Set(sets.map((e) => e.parent_buildid).filter((p): p is number => typeof p === 'number'))) {
    await index.resolveBuilder(['builds', String(parent)], undefined)
  }
}
