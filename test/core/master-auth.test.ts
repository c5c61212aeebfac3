import { test } from 'uvu'
import { request } from 'node:http'
import * as assert from 'uvu/assert'
import { localWorker, builder, steps, schedulers, hashPassword } from '../../core/index.ts'
import type { MasterConfig } from '../../core/config/define-master.ts'
import { testDatabases } from '../support/databases.ts'
import { startMaster, type MasterHarness } from '../support/master-harness.ts'
import { example } from '../fixtures/example-plugin/index.ts'
import { nix } from '../../plugins/nix/index.ts'

const base: MasterConfig = {
  workers: [localWorker({ name: 'local' })],
  builders: [builder({ name: 'work', workers: ['local'], steps: [steps.shell({ command: ['sleep', '60'] })] })],
  schedulers: [schedulers.force({ name: 'force', builderNames: ['work'] })],
}

/** A browser's view of the master over real HTTP: a cookie jar of one session cookie. */
function client(h: MasterHarness) {
  const url = `http://127.0.0.1:${h.master.ports.www}/`
  let cookie = ''
  const call = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(url + path, { ...init, redirect: 'manual', headers: { ...(cookie ? { cookie } : {}), ...(init.headers as Record<string, string> ?? {}) } })
    const set = res.headers.get('set-cookie')
    if (set) cookie = /Max-Age=0/.test(set) ? '' : set.split(';')[0]!
    return res
  }
  return {
    url,
    cookie: () => cookie,
    config: async () => (await call('config')).json() as Promise<Record<string, any>>,
    /** As the UI does: with the CSRF token when a session is open (a login replaces a session only with it). */
    async login(provider: string, username: string, password: string) {
      const csrf = (await this.config()).csrf_token as string | undefined
      return call(`auth/${provider}/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...(csrf ? { 'x-csrf-token': csrf } : {}) }, body: JSON.stringify({ username, password }) })
    },
    async stop(buildid: number) {
      const csrf = (await this.config()).csrf_token as string | undefined
      return call(`api/v2/builds/${buildid}`, {
        method: 'POST', headers: { 'content-type': 'application/json', ...(csrf ? { 'x-csrf-token': csrf } : {}) },
        body: JSON.stringify({ jsonrpc: '2.0', method: 'stop', params: {}, id: 1 }),
      })
    },
  }
}

const [sqlite] = testDatabases()

test('www.auth and www.authz apply on reconfigure, without a restart', async () => {
  const h = await startMaster(sqlite!, { ...base, www: { auth: { users: { alice: hashPassword('pw-a') } } } })
  try {
    const c = client(h)
    assert.is((await c.login('userpass', 'alice', 'pw-a')).status, 200)
    assert.equal((await c.config()).user, { username: 'alice', email: 'alice' })

    // A plugin's provider replaces the built-in login: the old session is no session any more.
    await h.master.reconfigure(await h.resolve({ ...base, plugins: [nix({ workers: ['local'], projects: [] }), example({ login: { issuer: 'http://127.0.0.1:9' } })], www: { auth: { provider: 'example' } } }))
    const cfg = await c.config()
    assert.equal(cfg.auth, { name: 'example', provider: 'example', label: 'Sign in with Example', kind: 'redirect', oauth2: true })
    assert.equal(cfg.user, { anonymous: true })
    assert.is((await c.login('userpass', 'alice', 'pw-a')).status, 404)
    const start = await fetch(`${c.url}auth/example/login?redirect=/builders`, { redirect: 'manual' })
    assert.is(start.status, 302)
    assert.match(start.headers.get('location')!, /^http:\/\/127\.0\.0\.1:9\/authorize\?client_id=buildbot-nix&redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A\d+%2Fauth%2Fexample%2Fcallback&state=/)

    // Back to user/password, with other users and rules: they apply at once.
    await h.master.reconfigure(await h.resolve({
      ...base, www: {
        auth: { users: { bob: hashPassword('pw-b'), carol: hashPassword('pw-c') } },
        authz: { rules: [{ action: 'stop', role: 'stoppers' }], roleMatchers: [{ kind: 'usernames', roles: { stoppers: ['carol'] } }] },
      },
    }))
    assert.equal((await c.config()).user, { anonymous: true }, 'alice\'s old session ended with her account')
    assert.is((await c.login('userpass', 'alice', 'pw-a')).status, 401)
    assert.is((await c.login('userpass', 'bob', 'pw-b')).status, 200)
    assert.equal((await c.config()).user_can.stop, false)
    const { bsid } = await h.force('force')
    const buildid = await h.until(async () => (await h.master.data.db.k.selectFrom('builds').select('buildid').executeTakeFirst())?.buildid, 'the build starts')
    assert.is((await c.stop(buildid)).status, 403)
    assert.is((await c.login('userpass', 'carol', 'pw-c')).status, 200)
    assert.equal((await c.config()).user_can.stop, true)
    assert.is((await c.stop(buildid)).status, 200)
    await h.waitBuildset(bsid)
  } finally { await h.stop() }
})

/** A raw request with a chosen Host header, as a page on a DNS-rebound name would send. */
function rawRequest(port: number, opts: { path: string; host: string; method?: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: opts.path, method: opts.method ?? 'GET', agent: false, headers: { host: opts.host, ...opts.headers } }, (res) => {
      let body = ''
      res.on('data', (d) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

test('a loopback master refuses a foreign Host, and a session\'s control POST without the CSRF token', async () => {
  const h = await startMaster(sqlite!, { ...base, www: { auth: { users: { alice: hashPassword('pw-a') } } } })
  try {
    const port = h.master.ports.www
    const c = client(h)
    assert.is((await c.login('userpass', 'alice', 'pw-a')).status, 200)
    const cookie = c.cookie()
    const { bsid } = await h.force('force')
    const buildid = await h.until(async () => (await h.master.data.db.k.selectFrom('builds').select('buildid').executeTakeFirst())?.buildid, 'the build starts')
    const stop = JSON.stringify({ jsonrpc: '2.0', method: 'stop', params: {}, id: 1 })
    const post = (host: string, headers: Record<string, string> = {}) =>
      rawRequest(port, { path: `/api/v2/builds/${buildid}`, method: 'POST', host, headers: { 'content-type': 'application/json', cookie, ...headers }, body: stop })
    const rebound = await post(`attacker.example:${port}`)
    assert.is(rebound.status, 421)
    assert.match(rebound.body, /www\.allowedHosts/)
    assert.is((await rawRequest(port, { path: '/config', host: `attacker.example:${port}` })).status, 421)
    const noProof = await post(`127.0.0.1:${port}`)
    assert.is(noProof.status, 403)
    assert.is((await h.master.data.builds.getBuild(buildid))!.complete, false)
    const csrf = (await c.config()).csrf_token as string
    assert.is((await post(`127.0.0.1:${port}`, { 'x-csrf-token': csrf })).status, 200)
    await h.waitBuildset(bsid)
  } finally { await h.stop() }
})

test('www.auth naming no registered provider is a config error with a suggestion', async () => {
  const err = await startMaster(sqlite!, { ...base, plugins: [nix({ workers: ['local'], projects: [] }), example({ login: { issuer: 'http://127.0.0.1:9' } })], www: { auth: { provider: 'exampel' } } }).catch((e) => e)
  assert.instance(err, Error)
  assert.match(String(err.message), /www\.auth\.provider.*no plugin registers the login provider 'exampel'.*did you mean 'example'/is)
})

test.run()
