import { test } from 'uvu'
import * as assert from 'uvu/assert'
import WebSocket from 'ws'
import { createHarness, seed, type Harness } from '../test-harness.ts'
import { hashPassword, verifyPassword } from './password.ts'
import { createSessionCodec } from './session.ts'
import type { HttpSurface, WwwConfig } from '../master-surface.ts'
import type { LoginProvider } from './login-provider.ts'
import type { RoleMatcherFn } from '../authz/role-matcher.ts'

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`
const stopBody = JSON.stringify({ jsonrpc: '2.0', method: 'stop', params: {}, id: 1 })

async function withHarness(www: Partial<WwwConfig>, fn: (h: Harness, ids: Awaited<ReturnType<typeof seed>>) => Promise<void>, surface?: Partial<HttpSurface>) {
  const h = await createHarness({ www, surface })
  try { await fn(h, await seed(h)) } finally { await h.close() }
}
interface Session { cookie: string; csrf: string }
const post = (h: Harness, url: string, s?: Partial<Session>, headers: Record<string, string> = {}) => h.server.app.inject({
  method: 'POST', url, payload: stopBody,
  headers: { 'content-type': 'application/json', ...(s?.cookie ? { cookie: s.cookie } : {}), ...(s?.csrf ? { 'x-csrf-token': s.csrf } : {}), ...headers },
})
const config = async (h: Harness, cookie?: string) => JSON.parse((await h.server.app.inject({ url: '/config', headers: cookie ? { cookie } : {} })).body)
/** Logs in through the form endpoint the UI posts to; answers the cookie and the CSRF token of /config. */
async function login(h: Harness, user: string, pass: string): Promise<Session> {
  const res = await h.server.app.inject({ method: 'POST', url: '/auth/userpass/login', payload: JSON.stringify({ username: user, password: pass }), headers: { 'content-type': 'application/json' } })
  assert.is(res.statusCode, 200, res.body)
  const set = String(res.headers['set-cookie'])
  assert.match(set, /HttpOnly/)
  assert.match(set, /SameSite=Lax/)
  assert.not.match(set, /Secure/)
  const cookie = set.split(';')[0]!
  const csrf = (await config(h, cookie)).csrf_token
  assert.type(csrf, 'string')
  return { cookie, csrf }
}

test('passwords: scrypt hashes verify, wrong passwords do not', () => {
  const h = hashPassword('s3cret')
  assert.match(h, /^scrypt\$[^$]+\$[^$]+$/)
  assert.ok(verifyPassword('s3cret', h))
  assert.not.ok(verifyPassword('s3cret!', h))
  assert.ok(verifyPassword('plain', 'plain'))
})

test('sessions: forged or expired tokens are no session; CSRF tokens are bound to the session', async () => {
  const a = createSessionCodec({ secret: 'one' })
  const b = createSessionCodec({ secret: 'two' })
  const token = await a.sign({ username: 'alice' }, 'userpass')
  const s = await a.verify(token)
  assert.equal(s?.user, { username: 'alice' })
  assert.is(s?.provider, 'userpass')
  assert.is(await b.verify(token), undefined)
  assert.is(await a.verify(await a.sign({ username: 'alice' }, 'userpass', Date.now() / 1000 - 8 * 24 * 3600)), undefined)
  assert.is(await a.verify('garbage'), undefined)
  const other = (await a.verify(await a.sign({ username: 'alice' }, 'userpass')))!
  assert.is.not(other.sid, s!.sid)
  assert.ok(a.csrfValid(s!.sid, a.csrfToken(s!.sid)))
  assert.not.ok(a.csrfValid(other.sid, a.csrfToken(s!.sid)))
  assert.not.ok(b.csrfValid(s!.sid, a.csrfToken(s!.sid)))
  // The cookie value is signed too: a token moved into a cookie by hand does not pass.
  assert.not.ok(a.signer.unsign(token).valid)
  assert.ok(a.signer.unsign(a.signer.sign(token)).valid)
  assert.is(createSessionCodec({ secure: true }).cookieName, 'TWISTED_SECURE_SESSION')
})

test('loopback master without auth: the local anonymous user controls builds', async () => {
  await withHarness({}, async (h, ids) => {
    const res = await post(h, `/api/v2/builds/${ids.build2.buildid}`)
    assert.is(res.statusCode, 200)
    const cfg = await config(h)
    assert.equal(cfg.user, { anonymous: true })
    assert.equal(cfg.auth, { name: 'NoAuth' })
    assert.is(cfg.user_can.force, true)
    assert.not.ok('csrf_token' in cfg)
    assert.is((await h.server.app.inject('/auth/login')).statusCode, 404)
  })
})

test('non-loopback master: read-only for anonymous users', async () => {
  await withHarness({ host: '0.0.0.0' }, async (h, ids) => {
    const res = await post(h, `/api/v2/builds/${ids.build2.buildid}`)
    assert.is(res.statusCode, 403)
    assert.equal(JSON.parse(res.body).error, { code: -32600, message: "you need to have role 'admin'" })
    assert.is((await h.data.builds.getBuild(ids.build2.buildid))!.complete, false)
    assert.is((await h.server.app.inject('/api/v2/builds')).statusCode, 200)
    assert.equal((await config(h)).user_can, { force: false, stop: false, rebuild: false, cancel: false, reload: false, worker: false })
  })
})

const twoUsers: Partial<WwwConfig> = {
  host: '0.0.0.0', auth: { kind: 'userpass', users: { alice: hashPassword('pw-a'), bob: 'pw-b' } },
  authz: { rules: [{ action: 'stop', role: 'admins' }, { action: 'control', role: 'devs' }], roleMatchers: [{ kind: 'usernames', roles: { admins: ['alice'], devs: ['alice', 'bob'] } }] },
}

test('user/password auth: the form login, roles from usernames, logout', async () => {
  await withHarness(twoUsers, async (h, ids) => {
    const bad = await h.server.app.inject({ method: 'POST', url: '/auth/userpass/login', payload: '{"username":"alice","password":"nope"}', headers: { 'content-type': 'application/json' } })
    assert.is(bad.statusCode, 401)
    assert.equal(JSON.parse(bad.body), { error: 'wrong user name or password' })
    assert.is(bad.headers['www-authenticate'], undefined, 'no browser Basic dialog')
    // A cross-site form can only send text/plain, urlencoded or multipart bodies.
    const asForm = await h.server.app.inject({ method: 'POST', url: '/auth/userpass/login', payload: '{"username":"alice","password":"pw-a"}', headers: { 'content-type': 'text/plain' } })
    assert.is(asForm.statusCode, 415)
    assert.is(asForm.headers['set-cookie'], undefined)
    // Without credentials, Buildbot's /auth/login sends the browser to the UI's form.
    const toForm = await h.server.app.inject('/auth/login?redirect=/builders/2')
    assert.is(toForm.statusCode, 302)
    assert.is(toForm.headers.location, 'http://127.0.0.1:8010/#/login?redirect=%2Fbuilders%2F2')
    const alice = await login(h, 'alice', 'pw-a')
    const bob = await login(h, 'bob', 'pw-b')
    const cfg = await config(h, bob.cookie)
    assert.equal(cfg.user, { username: 'bob', email: 'bob' })
    assert.equal(cfg.auth, { name: 'UserPasswordAuth', provider: 'userpass', label: 'Log in', kind: 'form', oauth2: false })
    assert.equal(cfg.user_can, { force: true, stop: false, rebuild: true, cancel: true, reload: true, worker: true })
    const denied = await post(h, `/api/v2/builds/${ids.build2.buildid}`, bob)
    assert.is(denied.statusCode, 403)
    assert.is(JSON.parse(denied.body).error.message, "you need to have role 'admins'")
    assert.is((await post(h, `/api/v2/builds/${ids.build2.buildid}`)).statusCode, 403)
    assert.is((await post(h, `/api/v2/builds/${ids.build2.buildid}`, alice)).statusCode, 200)
    // A login POST over an open session needs that session's token too.
    const relogin = await h.server.app.inject({ method: 'POST', url: '/auth/userpass/login', payload: '{"username":"bob","password":"pw-b"}', headers: { 'content-type': 'application/json', cookie: alice.cookie } })
    assert.is(relogin.statusCode, 403)
    assert.is(relogin.headers['set-cookie'], undefined)
    // Logout is a control request: the cookie alone does not do it.
    const forged = await h.server.app.inject({ method: 'POST', url: '/auth/logout', headers: { cookie: alice.cookie } })
    assert.is(forged.statusCode, 403)
    assert.is(forged.headers['set-cookie'], undefined)
    assert.is((await h.server.app.inject({ url: '/auth/logout', headers: { cookie: alice.cookie } })).statusCode, 405)
    const out = await h.server.app.inject({ method: 'POST', url: '/auth/logout', headers: { cookie: alice.cookie, 'x-csrf-token': alice.csrf } })
    assert.is(out.statusCode, 200)
    assert.equal(JSON.parse(out.body), { redirect: 'http://127.0.0.1:8010/' })
    assert.match(String(out.headers['set-cookie']), /Max-Age=0/)
    const cleared = String(out.headers['set-cookie']).split(';')[0]!
    assert.equal((await config(h, cleared)).user, { anonymous: true })
  })
})

test('control POST with the session cookie needs the CSRF token; scripts with HTTP Basic need none', async () => {
  await withHarness(twoUsers, async (h, ids) => {
    const alice = await login(h, 'alice', 'pw-a')
    const url = `/api/v2/builds/${ids.build2.buildid}`
    const noProof = await post(h, url, { cookie: alice.cookie })
    assert.is(noProof.statusCode, 403)
    assert.match(JSON.parse(noProof.body).error.message, /x-csrf-token/)
    const wrongProof = await post(h, url, { cookie: alice.cookie, csrf: (await login(h, 'bob', 'pw-b')).csrf })
    assert.is(wrongProof.statusCode, 403, 'another session\'s token is no proof')
    assert.is((await h.data.builds.getBuild(ids.build2.buildid))!.complete, false)
    assert.is((await post(h, url, alice)).statusCode, 200)
    // Reads need no proof.
    assert.is((await h.server.app.inject({ url: '/api/v2/builds', headers: { cookie: alice.cookie } })).statusCode, 200)
    // Scripts: HTTP Basic on the API itself, no cookie, no CSRF token.
    const script = await post(h, url, undefined, { authorization: basic('alice', 'pw-a') })
    assert.is(script.statusCode, 200)
    const wrong = await post(h, url, undefined, { authorization: basic('alice', 'nope') })
    assert.is(wrong.statusCode, 401)
    assert.match(JSON.parse(wrong.body).error.message, /Authorization header/)
    const read = await h.server.app.inject({ url: '/api/v2/builds', headers: { authorization: basic('bob', 'pw-b') } })
    assert.is(read.statusCode, 200)
    // Buildbot's /auth/login with Basic still sets a session (and redirects to the UI).
    const legacy = await h.server.app.inject({ url: '/auth/login?redirect=/builders', headers: { authorization: basic('bob', 'pw-b') } })
    assert.is(legacy.statusCode, 302)
    assert.is(legacy.headers.location, 'http://127.0.0.1:8010/#/builders')
    assert.equal((await config(h, String(legacy.headers['set-cookie']).split(';')[0])).user, { username: 'bob', email: 'bob' })
  })
})

test('https buildbotURL: the session cookie is Secure and has its own name', async () => {
  await withHarness({ host: '0.0.0.0', auth: { kind: 'userpass', users: { bob: 'pw' } }, allowedHosts: ['ci.example.org'] }, async (h) => {
    const res = await h.server.app.inject({ method: 'POST', url: '/auth/userpass/login', payload: '{"username":"bob","password":"pw"}', headers: { 'content-type': 'application/json', host: 'ci.example.org' } })
    assert.is(res.statusCode, 200)
    assert.match(String(res.headers['set-cookie']), /^TWISTED_SECURE_SESSION=.*; Secure/)
  }, { buildbotURL: 'https://ci.example.org/' })
})

test('a plugin provider: redirect login with checked state, Authorization from a proxy, its logout page', async () => {
  const provider: LoginProvider = {
    name: 'proxy', label: 'Sign in with Proxy',
    login: { kind: 'redirect', url: ({ callbackURL, state }) => `https://idp.example/authorize?${new URLSearchParams({ redirect_uri: callbackURL, state })}` },
    async callback({ query }) {
      if (query.code !== 'good') throw new Error('unknown code')
      return { username: 'dana', email: 'dana@example.org', groups: ['ops'] }
    },
    fromAuthorization: (header) => (header === 'Bearer proxy-token' ? { username: 'proxy-user' } : undefined),
    logout: () => 'https://idp.example/sign_out',
  }
  await withHarness({ host: '0.0.0.0', auth: { kind: 'plugin', name: 'proxy' } }, async (h) => {
    const start = await h.server.app.inject('/auth/login?redirect=/workers')
    assert.is(start.statusCode, 302)
    const to = new URL(String(start.headers.location))
    assert.is(to.origin + to.pathname, 'https://idp.example/authorize')
    assert.is(to.searchParams.get('redirect_uri'), 'http://127.0.0.1:8010/auth/proxy/callback')
    const state = to.searchParams.get('state')!
    const loginCookie = String(start.headers['set-cookie']).split(';')[0]!
    assert.match(String(start.headers['set-cookie']), /^BBN_LOGIN_STATE=.*Path=\/auth\/; HttpOnly; SameSite=Lax/)
    // The state must come back with the browser that started the login.
    const noCookie = await h.server.app.inject(`/auth/proxy/callback?code=good&state=${state}`)
    assert.is(noCookie.statusCode, 400)
    const wrongState = await h.server.app.inject({ url: '/auth/proxy/callback?code=good&state=other', headers: { cookie: loginCookie } })
    assert.is(wrongState.statusCode, 400)
    const refused = await h.server.app.inject({ url: `/auth/proxy/callback?code=bad&state=${state}`, headers: { cookie: loginCookie } })
    assert.is(refused.statusCode, 403)
    assert.is(refused.body, "login with 'proxy' failed: unknown code")
    const done = await h.server.app.inject({ url: `/auth/proxy/callback?code=good&state=${state}`, headers: { cookie: loginCookie } })
    assert.is(done.statusCode, 302)
    assert.is(done.headers.location, 'http://127.0.0.1:8010/#/workers')
    const cookie = ([] as string[]).concat(done.headers['set-cookie'] as string[]).find((c) => c.startsWith('TWISTED_SESSION='))!.split(';')[0]!
    const cfg = await config(h, cookie)
    assert.equal(cfg.user, { username: 'dana', email: 'dana@example.org', groups: ['ops'] })
    assert.equal(cfg.auth, { name: 'proxy', provider: 'proxy', label: 'Sign in with Proxy', kind: 'redirect', oauth2: true })
    // Another provider's routes are not here.
    assert.is((await h.server.app.inject('/auth/userpass/login')).statusCode, 404)
    // A proxy in front authenticates each request by header.
    const viaHeader = await h.server.app.inject({ url: '/config', headers: { authorization: 'Bearer proxy-token' } })
    assert.equal(JSON.parse(viaHeader.body).user, { username: 'proxy-user' })
    assert.is((await h.server.app.inject({ url: '/api/v2/builds', headers: { authorization: 'Bearer nope' } })).statusCode, 401)
    const out = await h.server.app.inject({ method: 'POST', url: '/auth/logout', headers: { cookie, 'x-csrf-token': cfg.csrf_token } })
    assert.equal(JSON.parse(out.body), { redirect: 'https://idp.example/sign_out' })
  }, { loginProviders: () => [provider] })
})

test('a plugin role matcher sees the builder\'s project with its owner from the registry', async () => {
  const seen: unknown[] = []
  const orgAdmin: RoleMatcherFn = ({ user, target }) => {
    seen.push(target.project)
    return target.project?.owner && user.groups?.includes(target.project.owner) ? ['admin'] : []
  }
  const provider: LoginProvider = { name: 'gh', label: 'Sign in', login: { kind: 'form', check: () => undefined }, fromAuthorization: () => ({ username: 'erin', groups: ['acme'] }) }
  await withHarness({ host: '0.0.0.0', auth: { kind: 'plugin', name: 'gh' } }, async (h, ids) => {
    await h.data.projects.registerProject({ name: 'demo', owner: 'acme', forge: 'github', cloneUrl: 'https://github.com/acme/demo' }, 'test')
    const as = { authorization: 'Bearer erin' }
    // build1 is of b1, in project demo (owned by acme); build2 is of b2, in no project.
    assert.is((await post(h, `/api/v2/builds/${ids.build1.buildid}`, undefined, as)).statusCode, 200)
    const other = await post(h, `/api/v2/builds/${ids.build2.buildid}`, undefined, as)
    assert.is(other.statusCode, 403)
    assert.is(JSON.parse(other.body).error.message, "you need to have role 'admin'")
    assert.equal(seen, [{ name: 'demo', owner: 'acme', forge: 'github' }, null])
  }, { loginProviders: () => [provider], roleMatchers: () => [orgAdmin] })
})

test('private access: reads and the /ws handshake need a session', async () => {
  await withHarness({ host: '127.0.0.1', auth: { kind: 'userpass', users: { bob: 'pw' } }, access: 'private' }, async (h) => {
    const res = await h.server.app.inject('/api/v2/builds')
    assert.is(res.statusCode, 403)
    assert.is(res.headers['content-type'], 'text/plain; charset=utf-8')
    assert.equal(JSON.parse(res.body), { error: "you need to have role 'user'" })
    const { cookie } = await login(h, 'bob', 'pw')
    assert.is((await h.server.app.inject({ url: '/api/v2/builds', headers: { cookie } })).statusCode, 200)
    const { port } = await h.server.listen()
    const refused = await new Promise<number>((res) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
      ws.on('error', () => {})
      ws.on('unexpected-response', (req, r) => { res(r.statusCode ?? 0); req.destroy() })
      ws.on('open', () => { res(101); ws.close() })
    })
    assert.is(refused, 403)
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { cookie } })
    await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej) })
    ws.send(JSON.stringify({ cmd: 'ping', _id: 1 }))
    const reply = await new Promise((res) => ws.once('message', (d) => res(JSON.parse(String(d)))))
    assert.equal(reply, { msg: 'pong', code: 200, _id: 1 })
    ws.close()
  })
})

test.run()
