import type { FastifyInstance } from 'fastify'
import type { HttpSurface } from './master-surface.ts'
import { identify, type AuthState } from './auth/auth-state.ts'
import { isSecretRef } from '../properties/renderable.ts'
import { presented, sameSecret } from './shared-secret.ts'

const text = 'text/plain; charset=utf-8'
/** Paths a load balancer or systemd probes by address; they say nothing about builds, so no `Host` check. */
export const PROBE_PATHS = new Set(['/health', '/ready'])

/**
 * `GET /health` (the process answers: liveness), `GET /ready` (the master is started and its
 * database answers, so it can take traffic: 200, else 503, with the failing checks as JSON) and
 * `GET /metrics` (Prometheus text). `/metrics` is read like the REST API (open on a public
 * master, a login on a private one) unless `www.metrics.token` is set: then only
 * `Authorization: Bearer <token>` reads it. `www.metrics: false` turns it off (404).
 */
export function registerHealthRoutes(app: FastifyInstance, opts: { surface: HttpSurface; state: () => AuthState }) {
  const { surface } = opts
  app.get('/health', async (_req, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }))
  app.get('/ready', async (_req, reply) => {
    const r = surface.ready ? await surface.ready().catch((err: unknown) => ({ ok: false, checks: { master: String((err as Error)?.message ?? err) } })) : { ok: true, checks: {} }
    return reply.code(r.ok ? 200 : 503).header('cache-control', 'no-store').send({ status: r.ok ? 'ready' : 'not ready', checks: r.checks })
  })
  app.get('/metrics', async (req, reply) => {
    const m = surface.metrics
    const cfg = surface.www.metrics
    if (!m || cfg === false) return reply.code(404).header('content-type', text).send('metrics are turned off (www.metrics: false)')
    if (cfg?.token !== undefined) {
      const given = presented(req.headers)
      if (!given) return reply.code(401).header('www-authenticate', 'Bearer realm="metrics"').header('content-type', text).send('/metrics needs the token of www.metrics.token: send `Authorization: Bearer <token>`')
      let expected: string
      try {
        if (!isSecretRef(cfg.token)) expected = cfg.token
        else if (surface.secret) expected = await surface.secret(cfg.token.secretName)
        else throw new Error('no secrets provider')
      } catch (err) {
        surface.log.error({ err: (err as Error).message }, "the metrics token could not be read; /metrics refuses every request")
        return reply.code(503).header('content-type', text).send("the metrics token is not available on the master; see its log")
      }
      if (!sameSecret(given, expected)) return reply.code(403).header('content-type', text).send('wrong token for /metrics')
    } else {
      const state = opts.state()
      const id = await identify(req, state)
      if ('error' in id) return reply.code(401).header('content-type', text).send(id.error)
      if (!await state.authz.allowed({ action: 'get', endpoint: 'masters', project: null }, id.user)) {
        return reply.code(403).header('content-type', text).send('forbidden: log in, or set www.metrics.token for scrapers')
      }
    }
    return reply.header('content-type', m.contentType).header('cache-control', 'no-store').send(await m.text())
  })
}
