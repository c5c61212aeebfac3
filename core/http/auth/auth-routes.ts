import type { FastifyInstance, FastifyReply } from 'fastify'
import type { HttpSurface, UserInfo } from '../master-surface.ts'
import type { SessionCodec } from './session.ts'
import { ANONYMOUS } from './session.ts'
import { verifyPassword } from './password.ts'

/** Buildbot's name for the auth class, shown in `/config` `auth.name`. */
export function authName(www: HttpSurface['www']): string {
  switch (www.auth.kind) {
    case 'none': return 'NoAuth'
    case 'userpass': return 'UserPasswordAuth'
    case 'plugin': return www.auth.name
  }
}

/** Checks an HTTP Basic `Authorization` header against the configured users. */
export function basicUser(header: string | undefined, users: Record<string, string>): UserInfo | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '')
  if (!m) return undefined
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  const name = decoded.slice(0, colon)
  const stored = Object.hasOwn(users, name) ? users[name] : undefined
  if (stored === undefined || !verifyPassword(decoded.slice(colon + 1), stored)) return undefined
  // Buildbot's default user-info provider sets email = username.
  return { username: name, email: name }
}

/** `/auth/login` (HTTP Basic for user/password auth) and `/auth/logout`, both 302 to `buildbotURL#<redirect>`. */
export function registerAuthRoutes(app: FastifyInstance, opts: { surface: HttpSurface; sessions: SessionCodec }) {
  const { surface, sessions } = opts
  const back = (reply: FastifyReply, redirect: unknown) =>
    reply.code(302).header('location', `${surface.buildbotURL}#${typeof redirect === 'string' && redirect ? redirect : '/'}`).send('')

  app.get('/auth/login', async (req, reply) => {
    const auth = surface.www.auth
    const redirect = (req.query as Record<string, unknown>).redirect
    if (auth.kind === 'none') return reply.code(404).header('content-type', 'text/plain; charset=utf-8').send('this master has no login (www.auth is none)')
    if (auth.kind === 'plugin') return reply.code(501).header('content-type', 'text/plain; charset=utf-8').send(`login is provided by the ${auth.name} plugin`)
    const user = basicUser(req.headers.authorization, auth.users)
    if (!user) return reply.code(401).header('www-authenticate', 'Basic realm="buildbot"').header('content-type', 'text/plain; charset=utf-8').send('login required')
    reply.header('set-cookie', sessions.cookie(user))
    return back(reply, redirect)
  })
  app.get('/auth/logout', async (req, reply) => {
    reply.header('set-cookie', sessions.cookie(ANONYMOUS))
    return back(reply, (req.query as Record<string, unknown>).redirect)
  })
}
