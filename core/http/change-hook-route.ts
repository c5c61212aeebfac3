import type { FastifyInstance } from 'fastify'
import type { HttpSurface } from './master-surface.ts'
import { unavailableStorage } from '../db/storage-error.ts'

/** Webhook payloads (GitHub allows 25 MB). */
export const HOOK_BODY_LIMIT = 25 * 1024 * 1024

/** `/change_hook/<dialect>`: the plugin's handler gets the raw body, for its signature check. */
export function registerChangeHookRoute(app: FastifyInstance, surface: HttpSurface) {
  app.route({
    method: ['GET', 'POST'], url: '/change_hook/:dialect', bodyLimit: HOOK_BODY_LIMIT,
    async handler(req, reply) {
      const dialect = (req.params as { dialect: string }).dialect
      const hook = surface.changeHooks().find((h) => h.dialect === dialect)
      reply.header('content-type', 'text/plain; charset=utf-8')
      if (!hook) return reply.code(400).send(`The dialect specified, '${dialect}', wasn't whitelisted in change_hook`)
      const query: Record<string, string> = {}
      for (const [k, v] of new URLSearchParams(req.url.split('?')[1] ?? '')) query[k] = v
      try {
        const res = await hook.handle({ headers: req.headers, rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), query })
        if (res.headers) reply.headers(res.headers)
        return reply.code(res.status).send(res.body)
      } catch (err) {
        surface.log.error({ err, dialect, owner: hook.owner }, 'change hook failed')
        // The sender may deliver again later: say so when the database is what failed.
        const unavailable = unavailableStorage(err)
        if (unavailable) return reply.code(503).send(unavailable.message)
        return reply.code(500).send('Error processing changes.')
      }
    },
  })
}
