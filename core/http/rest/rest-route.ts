import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { HttpSurface } from '../master-surface.ts'
import { splitApiPath } from '../path-match.ts'
import type { Authz } from '../authz/authz.ts'
import { ForbiddenError } from '../authz/authz.ts'
import type { SessionCodec } from '../auth/session.ts'
import { originAllowed } from '../origin.ts'
import { createRestReader } from './rest-read.ts'
import { createRpcHandler } from '../rpc/jsonrpc.ts'

export const API_BODY_LIMIT = 1024 * 1024

/** `/api/v2` (and `/api/latest`): GET/HEAD reads, POST JSON-RPC, OPTIONS preflight, CORS. */
export function registerRestRoutes(app: FastifyInstance, opts: { surface: HttpSurface; authz: Authz; sessions: SessionCodec }) {
  const { surface, authz, sessions } = opts
  const reader = createRestReader(surface)
  const rpc = createRpcHandler({ surface, authz, pathExists: (s) => !!reader.match(s) })
  const base = new URL(surface.buildbotURL)
  const allowedOrigins = surface.www.allowedOrigins ?? [base.origin]

  const textError = (reply: FastifyReply, status: number, message: string) =>
    reply.code(status).header('content-type', 'text/plain; charset=utf-8').send(JSON.stringify({ error: message }))

  async function handle(req: FastifyRequest, reply: FastifyReply, prefix: string) {
    const [rawPath, qs = ''] = req.url.split('?', 2) as [string, string?]
    const segments = splitApiPath(rawPath.slice(prefix.length))
    const origin = req.headers.origin
    if (origin) {
      if (!originAllowed(origin, req.headers.host, allowedOrigins)) {
        return req.method === 'POST'
          ? reply.code(400).header('content-type', 'application/json').send(JSON.stringify({ error: { message: 'invalid origin' } }))
          : textError(reply, 400, 'invalid origin')
      }
      reply.header('access-control-allow-origin', origin).header('access-control-allow-headers', 'Content-Type').header('access-control-max-age', '3600')
    }
    const user = sessions.userOf(req.headers.cookie)
    switch (req.method) {
      case 'OPTIONS': {
        const want = String(req.headers['access-control-request-method'] ?? '').toUpperCase()
        if (want && !['GET', 'POST', 'HEAD'].includes(want)) return textError(reply, 400, 'invalid HTTP method')
        return reply.code(200).header('access-control-allow-methods', 'GET, POST, HEAD').send('')
      }
      case 'GET': case 'HEAD': {
        try { authz.assertAllowed({ action: 'get', endpoint: segments[0] }, user) } catch (e) {
          if (e instanceof ForbiddenError) return textError(reply, 403, e.message)
          throw e
        }
        const query = [...new URLSearchParams(qs)]
        let res
        try { res = await reader.read(segments, query) } catch (e) {
          surface.log.error({ err: e, path: segments.join('/') }, 'REST read failed')
          return textError(reply, 500, e instanceof Error ? `${e.name}(${JSON.stringify(e.message)})` : String(e))
        }
        if ('raw' in res) {
          reply.code(200).header('content-type', `${res.raw.mime}; charset=utf-8`)
          if (!res.inline && res.raw.filename) reply.header('content-disposition', `attachment; filename=${res.raw.filename}`)
          return reply.send(res.raw.body)
        }
        if (res.status !== 200) return reply.code(res.status).header('content-type', 'text/plain; charset=utf-8').send(JSON.stringify(res.json))
        const compact = String(req.headers.accept ?? '').includes('application/json')
        return reply.code(200)
          .header('content-type', compact ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8')
          .send(compact ? JSON.stringify(res.json) : JSON.stringify(res.json, null, 2))
      }
      case 'POST': {
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
        const ans = await rpc(segments, req.headers['content-type'], body, user)
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
