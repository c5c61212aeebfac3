import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { request } from 'node:http'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocket } from 'ws'
import { builder, createMaster, defineMaster, localWorker, schedulers, steps, type Master } from '../../core/index.ts'
import { resolveConfig } from '../../core/config/resolve.ts'
import { freePort } from '../../ui/test/free-port.ts'
import { oauth2Proxy } from './index.ts'

interface Ctx { master?: Master; basedir?: string; url?: string }
const test = suite<Ctx>('auth-oauth2-proxy: a fully private master')
const PASSWORD = 'proxy-shared-secret'
const PROXY = '127.0.0.2'

test.before(async (ctx) => {
  ctx.basedir = await mkdtemp(join(tmpdir(), 'bbn-fully-private-'))
  await writeFile(join(ctx.basedir, 'proxy-password'), `${PASSWORD}\n`)
  const port = await freePort()
  ctx.url = `http://127.0.0.1:${port}/`
  const config = await resolveConfig(defineMaster({
    title: 'fully private', basedir: ctx.basedir, db: `sqlite:${join(ctx.basedir, 'state.sqlite')}`, logLevel: 'error',
    www: { host: '127.0.0.1', port, auth: { provider: 'httpbasicauth' }, changeHooks: { base: { secret: 'webhook-secret' } } }, buildbotURL: ctx.url,
    plugins: [oauth2Proxy({
      backend: 'github', clientId: 'bbn-proxy', clientSecretFile: '/run/secrets/oauth2-proxy-client', cookieSecretFile: '/run/secrets/oauth2-proxy-cookie',
      httpBasicAuthPasswordFile: 'proxy-password', admins: ['alice'], users: ['bob'], teams: ['acme/core'], port: 8020,
      trustedHeaders: { proxyAddresses: [PROXY] },
    })],
    workers: [localWorker({ name: 'local' })],
    builders: [builder({ name: 'acme-app', project: 'acme/app', workers: ['local'], steps: [steps.shell({ name: 'work', command: ['true'] })] })],
    schedulers: [schedulers.force({ name: 'force-acme', builderNames: ['acme-app'] })],
  }), join(ctx.basedir, 'master.config.ts'))
  ctx.master = createMaster({ config })
  await ctx.master.start()
})

test.after(async (ctx) => {
  await ctx.master?.stop()
  if (ctx.basedir) await rm(ctx.basedir, { recursive: true, force: true })
})

/** One HTTP request, optionally from another loopback address (the proxy's). */
function call(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string; from?: string } = {}): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers, localAddress: opts.from }, (res) => {
      let text = ''
      res.on('data', (d) => { text += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }))
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}
const basic = (user: string, pw = PASSWORD) => ({ authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` })
const rpcBody = (method: string, params: Record<string, unknown> = {}) => JSON.stringify({ jsonrpc: '2.0', id: 1, method, params })
const json = { 'content-type': 'application/json' }

const READS = ['', 'config', 'api/v2/builds', 'api/v2/builders', 'api/v2/projects', 'api/v2/builds/1/steps', 'app.js', 'builders/1', 'auth/login', 'api']

test('without the proxy: no page, API answer, control action or /ws reaches anyone; webhooks still do', async ({ url, master }) => {
  await master!.control.force('force-acme', { reason: 'seed' }, 'tester')
  const k = master!.data.db.k
  const count = async () => Number((await k.selectFrom('buildsets').select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
  const before = await count()
  for (const path of READS) {
    const r = await call(`${url}${path}`)
    assert.is(r.status, 401, `GET /${path}`)
    assert.not.match(r.text, /acme|buildbot-nix|builds/, `GET /${path} tells nothing`)
  }
  const controls: [string, string, Record<string, unknown>][] = [
    ['forceschedulers/force-acme', 'force', {}], ['builds/1', 'rebuild', {}], ['builds/1', 'stop', {}],
    ['buildrequests/1', 'cancel', {}], ['projects', 'reload', {}], ['schedulers/1', 'enable', { enabled: false }], ['workers/1', 'pause', {}],
  ]
  for (const [path, method, params] of controls) {
    const r = await call(`${url}api/v2/${path}`, { method: 'POST', headers: json, body: rpcBody(method, params) })
    assert.is(r.status, 401, `${method} ${path}`)
  }
  // Identity headers from an address that is not the proxy, and a wrong proxy password: refused.
  assert.is((await call(`${url}api/v2/builds`, { headers: { 'x-forwarded-user': 'alice' } })).status, 401)
  const wrong = await call(`${url}api/v2/builds`, { headers: basic('alice', 'guess') })
  assert.is(wrong.status, 401)
  assert.match(wrong.text, /proxy credentials are wrong/)
  await new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(`${url!.replace('http', 'ws')}ws`)
    ws.once('open', () => reject(new Error('the websocket opened without the proxy')))
    ws.once('unexpected-response', (_req, res) => { try { assert.is(res.statusCode, 401); resolve() } catch (e) { reject(e) } })
    ws.once('error', () => undefined)
  })
  assert.is(await count(), before, 'nothing was added')
  // Probes answer without the proxy (systemd, a load balancer); /metrics without a token of its own does not.
  assert.is((await call(`${url}health`)).status, 200)
  assert.is((await call(`${url}metrics`)).status, 401)
  // The webhook path is not behind the proxy.
  const hook = await call(`${url}change_hook/base`, { method: 'POST', headers: { authorization: 'Bearer webhook-secret', 'content-type': 'application/x-www-form-urlencoded' }, body: 'revision=abc&branch=main&repository=https://x/acme/app&project=acme/app&comments=hi&author=A <a@x>' })
  assert.is(hook.status, 200, hook.text)
})

test('through the proxy: Basic with the shared password, or trusted headers from the proxy address; admins control, others read', async ({ url }) => {
  for (const path of ['', 'config', 'api/v2/builds']) assert.is((await call(`${url}${path}`, { headers: basic('bob') })).status, 200, `bob GET /${path}`)
  const cfg = JSON.parse((await call(`${url}config`, { headers: basic('alice') })).text) as { user: Record<string, unknown>; user_can: Record<string, boolean> }
  assert.equal(cfg.user, { username: 'alice' })
  assert.is(cfg.user_can.reload, true)
  const bobForce = await call(`${url}api/v2/forceschedulers/force-acme`, { method: 'POST', headers: { ...json, ...basic('bob') }, body: rpcBody('force') })
  assert.is(bobForce.status, 403, 'bob has no groups through Basic: read only')
  const aliceForce = await call(`${url}api/v2/forceschedulers/force-acme`, { method: 'POST', headers: { ...json, ...basic('alice') }, body: rpcBody('force') })
  assert.is(aliceForce.status, 200, aliceForce.text)
  // Trusted headers from the proxy's address, with groups: carol of acme/core is let in and may force acme/app.
  const carol = { 'x-forwarded-user': 'carol', 'x-forwarded-email': 'carol@acme.example', 'x-forwarded-groups': 'acme,acme/core' }
  const me = JSON.parse((await call(`${url}config`, { headers: carol, from: PROXY })).text) as { user: Record<string, unknown> }
  assert.equal(me.user, { username: 'carol', email: 'carol@acme.example', groups: ['acme', 'acme/core'] })
  const carolForce = await call(`${url}api/v2/forceschedulers/force-acme`, { method: 'POST', headers: { ...json, ...carol }, body: rpcBody('force'), from: PROXY })
  assert.is(carolForce.status, 200, carolForce.text)
  // mallory is in neither users nor teams: refused even from the proxy.
  const mallory = await call(`${url}api/v2/builds`, { headers: { 'x-forwarded-user': 'mallory', 'x-forwarded-groups': 'evil' }, from: PROXY })
  assert.is(mallory.status, 401)
  // /ws opens with the proxy's identity.
  await new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(`${url!.replace('http', 'ws')}ws`, { headers: basic('bob') })
    ws.once('open', () => { ws.close(); resolve() })
    ws.once('error', reject)
  })
  // Logout sends the browser to the proxy's sign-out.
  const out = await call(`${url}auth/logout`, { method: 'POST', headers: { ...json, ...basic('bob') }, body: '{}' })
  assert.equal(JSON.parse(out.text), { redirect: `${url}oauth2/sign_out` })
})

test('API tokens: made through the proxy, then a Bearer token alone gets in (reads, control for admins, /ws); wrong or revoked ones do not', async ({ url }) => {
  const cfg = JSON.parse((await call(`${url}config`, { headers: basic('bob') })).text) as { auth: Record<string, unknown> }
  assert.is(cfg.auth.api_tokens, true, 'the UI offers its tokens page')
  const make = async (who: string) => {
    const r = await call(`${url}api/v2/auth/tokens`, { method: 'POST', headers: { ...json, ...basic(who) }, body: rpcBody('create', { name: `${who}'s script` }) })
    assert.is(r.status, 200, r.text)
    return (JSON.parse(r.text) as { result: { token: string; tokenid: number } }).result
  }
  const bob = await make('bob'), alice = await make('alice')
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` })
  const builds = await call(`${url}api/v2/builds`, { headers: bearer(bob.token) })
  assert.is(builds.status, 200, builds.text)
  assert.match(builds.text, /"builds"/)
  const me = JSON.parse((await call(`${url}config`, { headers: bearer(bob.token) })).text) as { user: Record<string, unknown> }
  assert.is(me.user.username, 'bob')
  const bobForce = await call(`${url}api/v2/forceschedulers/force-acme`, { method: 'POST', headers: { ...json, ...bearer(bob.token) }, body: rpcBody('force') })
  assert.is(bobForce.status, 403, 'a token has its user\'s rights: bob reads only')
  const aliceForce = await call(`${url}api/v2/forceschedulers/force-acme`, { method: 'POST', headers: { ...json, ...bearer(alice.token) }, body: rpcBody('force') })
  assert.is(aliceForce.status, 200, aliceForce.text)
  const tokenMakesToken = await call(`${url}api/v2/auth/tokens`, { method: 'POST', headers: { ...json, ...bearer(bob.token) }, body: rpcBody('create', { name: 'x' }) })
  assert.is(tokenMakesToken.status, 400, 'a token cannot make tokens')
  await new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(`${url!.replace('http', 'ws')}ws`, { headers: bearer(bob.token) })
    ws.once('open', () => { ws.close(); resolve() })
    ws.once('error', reject)
  })
  // A made-up token, and bob's once revoked: 401, nothing of the master.
  const fake = await call(`${url}api/v2/builds`, { headers: bearer('bbn_' + 'A'.repeat(43)) })
  assert.is(fake.status, 401)
  assert.not.match(fake.text, /acme/)
  const revoked = await call(`${url}api/v2/auth/tokens/${bob.tokenid}`, { method: 'POST', headers: { ...json, ...basic('bob') }, body: rpcBody('revoke') })
  assert.is(revoked.status, 200, revoked.text)
  assert.is((await call(`${url}api/v2/builds`, { headers: bearer(bob.token) })).status, 401)
})

test("the oauth2-proxy configuration file is written for the NixOS module, readable by its owner only", async ({ basedir }) => {
  const file = join(basedir!, 'oauth2-proxy.cfg')
  const text = await readFile(file, 'utf8')
  assert.is((await stat(file)).mode & 0o777, 0o600)
  for (const line of ['provider = "github"', 'client_id = "bbn-proxy"', 'http_address = "127.0.0.1:8020"', 'skip_auth_routes = ["^/change_hook"]',
    'api_routes = ["^/api", "^/ws$"]', 'set_basic_auth = true', `basic_auth_password = "${PASSWORD}"`, 'github_users = ["bob", "alice"]',
    'github_org = "acme"', 'github_team = "core"', 'client_secret_file = "/run/secrets/oauth2-proxy-client"']) {
    assert.ok(text.split('\n').includes(line), `${line} in\n${text}`)
  }
})

test.run()
