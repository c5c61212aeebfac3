import { test } from 'uvu'
import * as assert from 'uvu/assert'
import WebSocket from 'ws'
import { createHarness, seed, type Harness } from '../test-harness.ts'
import { hashPassword, verifyPassword } from './password.ts'
import { createSessionCodec } from './session.ts'
import type { WwwConfig } from '../master-surface.ts'

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`
const stopBody = JSON.stringify({ jsonrpc: '2.0', method: 'stop', params: {}, id: 1 })

async function withHarness(www: Partial<WwwConfig>, fn: (h: Harness, ids: Awaited<ReturnType<typeof seed>>) => Promise<void>) {
  const h = await createHarness({ www })
  try { await fn(h, await seed(h)) } finally { await h.close() }
}
const post = (h: Harness, url: string, cookie?: string) => h.server.app.inject({
  method: 'POST', url, payload: stopBody, headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
})
async function login(h: Harness, user: string, pass: string): Promise<string> {
  const res = await h.server.app.inject({ method: 'GET', url: '/auth/login?redirect=/builders', headers: { authorization: basic(user, pass) } })
  assert.is(res.statusCode, 302)
  assert.is(res.headers.location, 'http://127.0.0.1:8010/#/builders')
  return String(res.headers['set-cookie']).split(';')[0]!
}

test('passwords: scrypt hashes verify, wrong passwords do not', () => {
  const h = hashPassword('s3cret')
  assert.match(h, /^scrypt\$[^$]+\$[^$]+$/)
  assert.ok(verifyPassword('s3cret', h))
  assert.not.ok(verifyPassword('s3cret!', h))
  assert.ok(verifyPassword('plain', 'plain'))
})

test('sessions: forged or expired cookies are anonymous', () => {
  const a = createSessionCodec({ secret: 'one' })
  const b = createSessionCodec({ secret: 'two' })
  const token = a.sign({ username: 'alice' })
  assert.equal(a.verify(token), { username: 'alice' })
  assert.is(b.verify(token), undefined)
  assert.is(a.verify(a.sign({ username: 'alice' }, 0)), undefined)
  assert.equal(a.userOf(`x=1; TWISTED_SESSION=${token}`), { username: 'alice' })
  assert.equal(a.userOf('TWISTED_SESSION=garbage'), { anonymous: true })
})

test('loopback master without auth: the local anonymous user controls builds', async () => {
  await withHarness({}, async (h, ids) => {
    const res = await post(h, `/api/v2/builds/${ids.build2.buildid}`)
    assert.is(res.statusCode, 200)
    const cfg = JSON.parse((await h.server.app.inject('/config')).body)
    assert.equal(cfg.user, { anonymous: true })
    assert.equal(cfg.auth, { name: 'NoAuth' })
    assert.is(cfg.user_can.force, true)
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
    assert.equal(JSON.parse((await h.server.app.inject('/config')).body).user_can, { force: false, stop: false, rebuild: false, cancel: false, reload: false })
  })
})

test('user/password auth: login, roles from usernames, logout', async () => {
  const www: Partial<WwwConfig> = {
    host: '0.0.0.0', auth: { kind: 'userpass', users: { alice: hashPassword('pw-a'), bob: 'pw-b' } },
    authz: { rules: [{ action: 'stop', role: 'admins' }, { action: 'control', role: 'devs' }], roleMatchers: [{ kind: 'usernames', roles: { admins: ['alice'], devs: ['alice', 'bob'] } }] },
  }
  await withHarness(www, async (h, ids) => {
    const bad = await h.server.app.inject({ url: '/auth/login', headers: { authorization: basic('alice', 'nope') } })
    assert.is(bad.statusCode, 401)
    assert.is(bad.headers['www-authenticate'], 'Basic realm="buildbot"')
    assert.is((await h.server.app.inject('/auth/login')).statusCode, 401)
    const alice = await login(h, 'alice', 'pw-a')
    const bob = await login(h, 'bob', 'pw-b')
    const cfg = JSON.parse((await h.server.app.inject({ url: '/config', headers: { cookie: bob } })).body)
    assert.equal(cfg.user, { username: 'bob', email: 'bob' })
    assert.equal(cfg.auth, { name: 'UserPasswordAuth' })
    assert.equal(cfg.user_can, { force: true, stop: false, rebuild: true, cancel: true, reload: true })
    const denied = await post(h, `/api/v2/builds/${ids.build2.buildid}`, bob)
    assert.is(denied.statusCode, 403)
    assert.is(JSON.parse(denied.body).error.message, "you need to have role 'admins'")
    assert.is((await post(h, `/api/v2/builds/${ids.build2.buildid}`)).statusCode, 403)
    assert.is((await post(h, `/api/v2/builds/${ids.build2.buildid}`, alice)).statusCode, 200)
    const out = await h.server.app.inject({ url: '/auth/logout', headers: { cookie: alice } })
    assert.is(out.statusCode, 302)
    assert.is(out.headers.location, 'http://127.0.0.1:8010/#/')
    const anonCookie = String(out.headers['set-cookie']).split(';')[0]!
    assert.equal(JSON.parse((await h.server.app.inject({ url: '/config', headers: { cookie: anonCookie } })).body).user, { anonymous: true })
  })
})

test('private access: reads and the /ws handshake need a session', async () => {
  await withHarness({ host: '127.0.0.1', auth: { kind: 'userpass', users: { bob: 'pw' } }, access: 'private' }, async (h) => {
    const res = await h.server.app.inject('/api/v2/builds')
    assert.is(res.statusCode, 403)
    assert.is(res.headers['content-type'], 'text/plain; charset=utf-8')
    assert.equal(JSON.parse(res.body), { error: "you need to have role 'user'" })
    const cookie = await login(h, 'bob', 'pw')
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
