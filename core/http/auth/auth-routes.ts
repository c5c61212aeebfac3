import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { HttpSurface, WwwConfig } from '../master-surface.ts'
import { originAllowed } from '../origin.ts'
import { clearSession, csrfOk, CSRF_MESSAGE, identify, setSession, type AuthState } from './auth-state.ts'
import { userInfoOf, type LoginProvider } from './login-provider.ts'
import { LOGIN_COOKIE_NAME } from './session.ts'

/** Buildbot's name for the auth class, shown in `/config` `auth.name`. */
export function authName(www: WwwConfig): string {
  switch (www.auth.kind) {
    case 'none': return 'NoAuth'
    case 'userpass': return 'UserPasswordAuth'
    case 'plugin': return www.auth.name
  }
}

const text = (reply: FastifyReply, status: number, message: string) =>
  reply.code(status).header('content-type', 'text/plain; charset=utf-8').send(message)
const json = (reply: FastifyReply, status: number, body: unknown) =>
  reply.code(status).header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-store').send(JSON.stringify(body))
const query = (req: FastifyRequest): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of new URLSearchParams(req.url.split('?')[1] ?? '')) out[k] = v
  return out
}
/** A UI route (`/builders/1`) to return to; never a URL elsewhere. */
const uiRoute = (r: string | undefined) => (r && r.startsWith('/') && !r.startsWith('//') ? r : '/')

/**
 * The login routes. `/auth/login` (Buildbot's) and `/auth/<provider>/login` start a login: a
 * redirect provider sends the browser to its identity provider with a state kept in a short-lived
 * signed cookie, checked again on `/auth/<provider>/callback`; a form provider's page is the UI's
 * `#/login`, which POSTs JSON `{username, password}` to `/auth/<provider>/login`. `POST
 * /auth/logout` clears the session. A session's control requests need the CSRF token.
 */
export function registerAuthRoutes(app: FastifyInstance, opts: { surface: HttpSurface; state: () => AuthState }) {
  const { surface } = opts
  const back = (reply: FastifyReply, redirect: string | undefined) => reply.code(302).header('location', `${surface.buildbotURL}#${uiRoute(redirect)}`).send('')
  const callbackURL = (p: LoginProvider) => `${surface.buildbotURL}auth/${encodeURIComponent(p.name)}/callback`
  /** The login-state cookie goes to `/auth/` under the path of buildbotURL (a proxy may mount the master below `/`). */
  const loginCookie = (s: AuthState, maxAge: number) =>
    ({ path: `${new URL(surface.buildbotURL).pathname}auth/`, httpOnly: true, sameSite: 'lax' as const, secure: s.sessions.secure, maxAge })

  /** The configured provider named in the path, or the reason there is none. */
  function providerFor(s: AuthState, name: string | undefined): LoginProvider | string {
    if (!s.provider) {
      return s.www.auth.kind === 'plugin'
        ? `www.auth names the login provider '${s.www.auth.name}', which no running plugin provides`
        : 'this master has no login (www.auth is none)'
    }
    if (name !== undefined && name !== s.provider.name) return `no login provider '${name}' here; this master logs in with '${s.provider.name}'`
    return s.provider
  }

  async function startLogin(req: FastifyRequest, reply: FastifyReply, p: LoginProvider, s: AuthState) {
    const redirect = uiRoute(query(req).redirect)
    if (p.login.kind === 'form') return reply.code(302).header('location', `${surface.buildbotURL}#/login?redirect=${encodeURIComponent(redirect)}`).send('')
    const state = randomBytes(24).toString('base64url')
    let url
    try { url = await p.login.url({ callbackURL: callbackURL(p), state }) } catch (err) {
      surface.log.error({ err, provider: p.name }, 'the login provider failed to start a login')
      return text(reply, 502, `the login provider '${p.name}' failed to start the login; the master's log says why`)
    }
    reply.setCookie(LOGIN_COOKIE_NAME, s.sessions.signer.sign(await s.sessions.signLoginState({ state, provider: p.name, redirect })), loginCookie(s, 600))
    return reply.code(302).header('location', url).send('')
  }

  // Buildbot's login URL: with HTTP Basic credentials (scripts) it sets the session at once;
  // otherwise it starts the configured provider's login.
  app.get('/auth/login', async (req, reply) => {
    const s = opts.state()
    const p = providerFor(s, undefined)
    if (typeof p === 'string') return text(reply, 404, p)
    if (req.headers.authorization && p.fromAuthorization) {
      const id = await identify(req, s)
      if ('error' in id) return text(reply, 401, id.error)
      await setSession(reply, s, id.user, p.name)
      return back(reply, query(req).redirect)
    }
    return startLogin(req, reply, p, s)
  })

  app.get('/auth/:provider/login', async (req, reply) => {
    const s = opts.state()
    const p = providerFor(s, (req.params as { provider: string }).provider)
    if (typeof p === 'string') return text(reply, 404, p)
    return startLogin(req, reply, p, s)
  })

  app.post('/auth/:provider/login', async (req, reply) => {
    const s = opts.state()
    const p = providerFor(s, (req.params as { provider: string }).provider)
    if (typeof p === 'string') return json(reply, 404, { error: p })
    if (p.login.kind !== 'form') return json(reply, 400, { error: `'${p.name}' logs in by redirect: open /auth/${p.name}/login` })
    if ((req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() !== 'application/json') return json(reply, 415, { error: 'send the login as application/json {"username": ..., "password": ...}' })
    const refused = await controlRefusal(req, s)
    if (refused) return json(reply, refused.status, { error: refused.message })
    let body: unknown
    try { body = JSON.parse(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '') } catch { return json(reply, 400, { error: 'the body must be JSON {"username": ..., "password": ...}' }) }
    const { username, password } = (body ?? {}) as Record<string, unknown>
    if (typeof username !== 'string' || typeof password !== 'string') return json(reply, 400, { error: 'the body must be JSON {"username": ..., "password": ...}' })
    let user
    try { user = await p.login.check(username, password) } catch (err) {
      surface.log.error({ err, provider: p.name }, 'the login provider failed to check a password')
      return json(reply, 502, { error: `the login provider '${p.name}' failed; the master's log says why` })
    }
    if (!user) return json(reply, 401, { error: 'wrong user name or password' })
    const info = userInfoOf(user)
    await setSession(reply, s, info, p.name)
    return json(reply, 200, { user: info })
  })

  app.get('/auth/:provider/callback', async (req, reply) => {
    const s = opts.state()
    const p = providerFor(s, (req.params as { provider: string }).provider)
    if (typeof p === 'string') return text(reply, 404, p)
    if (p.login.kind !== 'redirect' || !p.callback) return text(reply, 404, `'${p.name}' has no login callback`)
    const q = query(req)
    const raw = req.cookies?.[LOGIN_COOKIE_NAME]
    const unsigned = raw ? s.sessions.signer.unsign(raw) : undefined
    const pending = unsigned?.valid && unsigned.value ? await s.sessions.verifyLoginState(unsigned.value) : undefined
    reply.setCookie(LOGIN_COOKIE_NAME, '', loginCookie(s, 0))
    if (!pending || pending.provider !== p.name || !q.state || !sameString(pending.state, q.state)) {
      return text(reply, 400, 'this login was not started here or took longer than 10 minutes; start it again from the login button')
    }
    let user
    try { user = await p.callback({ query: q, callbackURL: callbackURL(p) }) } catch (err) {
      surface.log.warn({ err: String(err), provider: p.name }, 'login refused')
      return text(reply, 403, `login with '${p.name}' failed: ${(err as Error).message}`)
    }
    await setSession(reply, s, userInfoOf(user), p.name)
    return back(reply, pending.redirect)
  })

  app.post('/auth/logout', async (req, reply) => {
    const s = opts.state()
    const refused = await controlRefusal(req, s)
    if (refused) return json(reply, refused.status, { error: refused.message })
    const id = await identify(req, s)
    clearSession(reply, s)
    const to = !('error' in id) && s.provider?.logout ? await s.provider.logout(id.user) : undefined
    return json(reply, 200, { redirect: to ?? surface.buildbotURL })
  })
  app.get('/auth/logout', async (_req, reply) => text(reply, 405, 'log out with POST /auth/logout (the UI\'s Logout button does), with the X-CSRF-Token header of /config'))

  /** Origin and CSRF checks of a state-changing POST; JSON bodies only, which a cross-site form cannot send. */
  async function controlRefusal(req: FastifyRequest, s: AuthState): Promise<{ status: number; message: string } | undefined> {
    const origin = req.headers.origin
    if (origin && !originAllowed(origin, req.headers.host, s.allowedOrigins)) return { status: 403, message: 'invalid origin' }
    const id = await identify(req, s)
    if ('error' in id) return { status: 401, message: id.error }
    if (!csrfOk(req, id, s)) return { status: 403, message: CSRF_MESSAGE }
    return undefined
  }
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a), y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
