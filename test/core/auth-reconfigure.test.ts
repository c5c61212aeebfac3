import { test } from 'uvu'
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

test('www.auth naming no registered provider is a config error with a suggestion', async () => {
  const err = await startMaster(sqlite!, { ...base, plugins: [nix({ workers: ['local'], projects: [] }), example({ login: { issuer: 'http://127.0.0.1:9' } })], www: { auth: { provider: 'exampel' } } }).catch((e) => e)
  assert.instance(err, Error)
  assert.match(String(err.message), /www\.auth\.provider.*no plugin registers the login provider 'exampel'.*did you mean 'example'/is)
})

test.run()
