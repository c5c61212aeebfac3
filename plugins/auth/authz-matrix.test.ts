import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocket } from 'ws'
import { builder, createMaster, defineMaster, definePlugin, localWorker, schedulers, steps, type Master } from '../../core/index.ts'
import { resolveConfig } from '../../core/config/resolve.ts'
import { freePort } from '../../ui/test/free-port.ts'
import { auth } from './index.ts'
import { startIdp, type Idp, type IdpUser } from './testing/idp.ts'
import { startGithubStandIn, type GithubStandIn } from './testing/github-standin.ts'
import { get, rpc, signIn, type Credentials } from './testing/http-client.ts'

/**
 * Who may do what, over HTTP and /ws, with GitHub sign-in (a real OAuth2 server behind a GitHub
 * stand-in checked against GitHub's published API description): alice is an admin, carol is in
 * acme (owner of acme/app), zed in zeta (owner of zeta/lib), dave in no organisation.
 */
const people: Record<string, IdpUser & { orgs: string[] }> = {
  alice: { sub: 'alice', preferred_username: 'alice', email: 'alice@example.org', name: 'Alice Admin', orgs: [] },
  carol: { sub: 'carol', preferred_username: 'carol', email: 'carol@acme.example', name: 'Carol Acme', orgs: ['acme'] },
  zed: { sub: 'zed', preferred_username: 'zed', email: 'zed@zeta.example', name: 'Zed Zeta', orgs: ['zeta'] },
  dave: { sub: 'dave', preferred_username: 'dave', email: 'dave@example.org', name: 'Dave', orgs: [] },
}
type Who = 'anonymous' | 'user' | 'member' | 'other' | 'admin' | 'token'
const WHO: Who[] = ['anonymous', 'user', 'member', 'other', 'admin', 'token']

interface Ctx { idp?: Idp; gh?: GithubStandIn; master?: Master; basedir?: string; url?: string; creds?: Record<Who, Credentials> }
const test = suite<Ctx>('auth: the authz matrix with GitHub sign-in')

const SECRET_URL = 'https://github.com/acme/secret.git'
const testProjects = definePlugin({
  name: 'test-projects',
  setup(api) {
    api.onStart(async (rt) => {
      await rt.projects.add({ name: 'acme/app', forge: 'github', owner: 'acme', cloneUrl: 'https://github.com/acme/app.git', private: false })
      await rt.projects.add({ name: 'zeta/lib', forge: 'github', owner: 'zeta', cloneUrl: 'https://github.com/zeta/lib.git', private: false })
      await rt.projects.add({ name: 'acme/secret', forge: 'github', owner: 'acme', cloneUrl: SECRET_URL, private: true })
    })
  },
})

test.before(async (ctx) => {
  try { await setup(ctx) } catch (e) { throw new Error(`setup failed: ${String(e)}; stand-in mismatches: ${JSON.stringify(ctx.gh?.mismatches)}`) }
})
async function setup(ctx: Ctx) {
  ctx.idp = await startIdp(people.carol!)
  ctx.gh = await startGithubStandIn({
    idp: ctx.idp.url,
    accounts: Object.fromEntries(Object.entries(people).map(([k, p]) => [k, { login: p.preferred_username, name: p.name, email: p.email, orgs: p.orgs, teams: p.orgs.map((org) => ({ org, slug: 'core' })) }])),
  })
  ctx.basedir = await mkdtemp(join(tmpdir(), 'bbn-auth-matrix-'))
  await writeFile(join(ctx.basedir, 'github-oauth-secret'), 'client-secret\n')
  const port = await freePort()
  ctx.url = `http://127.0.0.1:${port}/`
  const quick = (name: string, project: string) => builder({ name, project, workers: ['local'], steps: [steps.shell({ name: 'work', command: ['true'] })] })
  const config = await resolveConfig(defineMaster({
    title: 'authz matrix', basedir: ctx.basedir, db: `sqlite:${join(ctx.basedir, 'state.sqlite')}`, logLevel: 'error',
    www: { host: '127.0.0.1', port, auth: { provider: 'github' } }, buildbotURL: ctx.url,
    plugins: [
      auth({ authBackend: 'github', admins: ['Alice'], github: { oauthId: 'bbn-client', oauthSecretFile: 'github-oauth-secret', url: ctx.gh.url, apiUrl: ctx.gh.url } }),
      testProjects({}),
    ],
    workers: [localWorker({ name: 'local', maxBuilds: 4 })],
    builders: [quick('acme-app', 'acme/app'), quick('zeta-lib', 'zeta/lib'), quick('acme-secret', 'acme/secret')],
    schedulers: [schedulers.force({ name: 'force-acme', builderNames: ['acme-app'] }), schedulers.force({ name: 'force-zeta', builderNames: ['zeta-lib'] }),
      schedulers.force({ name: 'force-secret', builderNames: ['acme-secret'] }),
      schedulers.anyBranch({ name: 'push-secret', builderNames: ['acme-secret'], changeFilter: { repository: SECRET_URL } }),
      schedulers.anyBranch({ name: 'push-acme', builderNames: ['acme-app'], changeFilter: { repository: 'https://github.com/acme/app.git' } })],
  }), join(ctx.basedir, 'master.config.ts'))
  ctx.master = createMaster({ config })
  await ctx.master.start()
  const session = async (p: IdpUser) => { ctx.idp!.nextUser = p; return signIn(ctx.url!, 'github') }
  const [member, user, other, admin] = [await session(people.carol!), await session(people.dave!), await session(people.zed!), await session(people.alice!)]
  const made = await rpc(ctx.url, 'auth/tokens', 'create', { name: 'matrix' }, member)
  assert.is(made.status, 200, JSON.stringify(made.body))
  ctx.creds = { anonymous: undefined, user, member, other, admin, token: { bearer: (made.body.result as { token: string }).token } }
  // One finished build per project, to rebuild and stop.
  for (const s of ['force-acme', 'force-zeta', 'force-secret']) await ctx.master.control.force(s, { reason: 'seed' }, 'tester')
  await waitFor(async () => (await ctx.master!.data.db.k.selectFrom('builds').select('buildid').where('complete_at', 'is not', null).execute()).length >= 3)
}

test.after(async (ctx) => {
  await ctx.master?.stop()
  await ctx.gh?.close()
  await ctx.idp?.close()
  if (ctx.basedir) await rm(ctx.basedir, { recursive: true, force: true })
})

/** Polls a condition on each turn of the event loop's I/O (no timers in assertions). */
async function waitFor(cond: () => Promise<boolean>, what = 'condition'): Promise<void> {
  for (let i = 0; i < 20_000; i++) {
    if (await cond()) return
    await new Promise((r) => setImmediate(r))
  }
  throw new Error(`gave up waiting for ${what}`)
}

test('sign-in over GitHub: state and PKCE through a real OAuth2 server; organisations and teams become groups', async ({ creds, gh }) => {
  const carol = creds!.member as { cookie: string }
  assert.ok(carol.cookie.startsWith('TWISTED_SESSION='))
  assert.equal(gh!.mismatches, [], 'every stand-in answer matches the published API description')
  assert.ok(gh!.served.includes('/user/orgs') && gh!.served.includes('/user/teams'))
})

test('/config carries the signed-in user as Buildbot does, with the groups', async ({ url, creds }) => {
  const cfg = JSON.parse((await get(url!, 'config', creds!.member)).text) as { user: Record<string, unknown>; user_can: Record<string, boolean>; auth: Record<string, unknown> }
  assert.equal(cfg.user, { username: 'carol', email: 'carol@acme.example', full_name: 'Carol Acme', groups: ['acme', 'acme/core'] })
  assert.equal(cfg.auth, { name: 'github', provider: 'github', label: 'Sign in with GitHub', kind: 'redirect', oauth2: true, api_tokens: true })
  assert.equal(cfg.user_can, { force: true, stop: true, rebuild: true, cancel: true, reload: false, worker: false })
  const admin = JSON.parse((await get(url!, 'config', creds!.admin)).text) as { user_can: Record<string, boolean> }
  assert.equal(admin.user_can, { force: true, stop: true, rebuild: true, cancel: true, reload: true, worker: true })
  const dave = JSON.parse((await get(url!, 'config', creds!.user)).text) as { user_can: Record<string, boolean> }
  assert.equal(dave.user_can, { force: false, stop: false, rebuild: false, cancel: false, reload: false, worker: false })
})

type Expect = Record<Who, boolean>
const only = (...who: Who[]): Expect => Object.fromEntries(WHO.map((w) => [w, who.includes(w)])) as Expect

test('control actions over HTTP (JSON-RPC): admins everything; org members their project\'s builds; others nothing', async ({ url, creds, master }) => {
  const k = master!.data.db.k
  const buildOf = async (builder: string) => (await k.selectFrom('builds as b').innerJoin('builders as bl', 'bl.builderid', 'b.builderid').select(['b.buildid', 'b.buildrequestid']).where('bl.name', '=', builder).orderBy('b.buildid').executeTakeFirstOrThrow())
  const acme = await buildOf('acme-app'), zeta = await buildOf('zeta-lib')
  const schedulerId = (await k.selectFrom('schedulers').select('schedulerid').where('name', '=', 'force-acme').executeTakeFirstOrThrow()).schedulerid
  const workerId = (await k.selectFrom('workers').select('workerid').executeTakeFirstOrThrow()).workerid
  const actions: { name: string; path: string; method: string; params: Record<string, unknown>; allowed: Expect }[] = [
    { name: 'force acme/app', path: 'forceschedulers/force-acme', method: 'force', params: { reason: 'matrix' }, allowed: only('member', 'admin', 'token') },
    { name: 'force zeta/lib', path: 'forceschedulers/force-zeta', method: 'force', params: { reason: 'matrix' }, allowed: only('other', 'admin') },
    { name: 'rebuild acme/app', path: `builds/${acme.buildid}`, method: 'rebuild', params: {}, allowed: only('member', 'admin', 'token') },
    { name: 'rebuild zeta/lib', path: `builds/${zeta.buildid}`, method: 'rebuild', params: {}, allowed: only('other', 'admin') },
    { name: 'stop acme/app', path: `builds/${acme.buildid}`, method: 'stop', params: {}, allowed: only('member', 'admin', 'token') },
    { name: 'stop zeta/lib', path: `builds/${zeta.buildid}`, method: 'stop', params: {}, allowed: only('other', 'admin') },
    { name: 'cancel acme/app request', path: `buildrequests/${acme.buildrequestid}`, method: 'cancel', params: {}, allowed: only('member', 'admin', 'token') },
    { name: 'cancel zeta/lib request', path: `buildrequests/${zeta.buildrequestid}`, method: 'cancel', params: {}, allowed: only('other', 'admin') },
    { name: 'reload projects', path: 'projects', method: 'reload', params: {}, allowed: only('admin') },
    { name: 'enable a scheduler', path: `schedulers/${schedulerId}`, method: 'enable', params: { enabled: true }, allowed: only('admin') },
    { name: 'unpause a worker', path: `workers/${workerId}`, method: 'unpause', params: {}, allowed: only('admin') },
    { name: 'make an API token', path: 'auth/tokens', method: 'create', params: { name: 'x' }, allowed: only('user', 'member', 'other', 'admin') },
  ]
  const wrong: string[] = []
  for (const a of actions) {
    for (const who of WHO) {
      const before = await k.selectFrom('buildsets').select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
      const { status, body } = await rpc(url!, a.path, a.method, a.params, creds![who])
      const after = await k.selectFrom('buildsets').select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
      const ok = status === 200
      if (ok !== a.allowed[who]) wrong.push(`${a.name} by ${who}: HTTP ${status} ${JSON.stringify(body.error?.message ?? body.result)}`)
      if (!ok && Number(after.n) !== Number(before.n)) wrong.push(`${a.name} by ${who} was refused but added a buildset`)
      if (!ok && who !== 'token' && a.path !== 'auth/tokens') assert.ok([401, 403].includes(status), `${a.name} by ${who}: ${status}`)
      if (ok && a.method === 'force' || ok && a.method === 'rebuild') assert.ok(Array.isArray(body.result), `${a.name} by ${who} answers [bsid, brids]`)
    }
  }
  assert.equal(wrong, [])
})

test('reads over HTTP: the public mode lets everyone read', async ({ url, creds }) => {
  for (const who of WHO) {
    for (const path of ['api/v2/builds', 'api/v2/builders', 'api/v2/projects', 'api/v2/builds/1/steps', 'config', '']) {
      const { status } = await get(url!, path, creds![who])
      assert.is(status, 200, `${who} GET /${path}`)
    }
  }
})

test('reads over /ws: every identity may subscribe and gets the events', async ({ url, creds, master }) => {
  for (const who of WHO) {
    const c = creds![who]
    const headers = !c ? {} : 'cookie' in c ? { cookie: c.cookie } : 'bearer' in c ? { authorization: `Bearer ${c.bearer}` } : {}
    const ws = new WebSocket(`${url!.replace('http', 'ws')}ws`, { headers })
    const frames: Record<string, unknown>[] = []
    ws.on('message', (d) => frames.push(JSON.parse(String(d))))
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
    ws.send(JSON.stringify({ _id: 1, cmd: 'startConsuming', path: 'buildsets/*/new' }))
    await waitFor(async () => frames.some((f) => f._id === 1), 'subscription')
    await master!.control.force('force-zeta', { reason: `ws ${who}` }, 'tester')
    await waitFor(async () => frames.some((f) => typeof f.k === 'string' && (f.k as string).startsWith('buildsets/')), `${who}'s event`)
    ws.close()
  }
})

test('a private repository: its project, builders, builds and logs are shown to its organisation and admins only, over HTTP and /ws', async ({ url, creds, master }) => {
  const k = master!.data.db.k
  const builder = (await k.selectFrom('builders').select('builderid').where('name', '=', 'acme-secret').executeTakeFirstOrThrow()).builderid
  const build = (await k.selectFrom('builds').select(['buildid', 'number']).where('builderid', '=', builder).orderBy('buildid').executeTakeFirstOrThrow())
  const step = (await k.selectFrom('steps').select('stepid').where('buildid', '=', build.buildid).executeTakeFirstOrThrow()).stepid
  const log = (await k.selectFrom('logs').select('logid').where('stepid', '=', step).executeTakeFirstOrThrow()).logid
  const project = (await k.selectFrom('projects').select('projectid').where('name', '=', 'acme/secret').executeTakeFirstOrThrow()).projectid
  const sees: Expect = only('member', 'admin', 'token')
  for (const who of WHO) {
    const list = async (path: string, plural: string) => (JSON.parse((await get(url!, `api/v2/${path}`, creds![who])).text) as Record<string, Record<string, unknown>[]>)[plural]!
    const names = (await list('builders', 'builders')).map((b) => b.name)
    assert.is(names.includes('acme-secret'), sees[who], `${who} lists the secret builder`)
    assert.ok(names.includes('acme-app'), `${who} lists public builders`)
    assert.is((await list('projects', 'projects')).some((p) => p.name === 'acme/secret'), sees[who], `${who} lists the secret project`)
    assert.is((await list('builds', 'builds')).some((b) => b.builderid === builder), sees[who], `${who} lists the secret builds`)
    assert.is((await list('forceschedulers', 'forceschedulers')).some((f) => f.name === 'force-secret'), sees[who], `${who} lists the secret force scheduler`)
    for (const path of [`builds/${build.buildid}`, `builders/${builder}/builds/${build.number}`, `builders/acme-secret`, `builds/${build.buildid}/steps`,
      `steps/${step}/logs`, `logs/${log}/contents`, `logs/${log}/raw`, `projects/${project}`, `projects/${project}/builders`]) {
      const { status } = await get(url!, `api/v2/${path}`, creds![who])
      assert.is(status, sees[who] ? 200 : 404, `${who} GET ${path}`)
    }
  }
  // /ws: events of the secret builder reach those who may see it only.
  const sockets = await Promise.all(WHO.map(async (who) => {
    const c = creds![who]
    const headers = !c ? {} : 'cookie' in c ? { cookie: c.cookie } : 'bearer' in c ? { authorization: `Bearer ${c.bearer}` } : {}
    const ws = new WebSocket(`${url!.replace('http', 'ws')}ws`, { headers })
    const frames: Record<string, unknown>[] = []
    ws.on('message', (d) => frames.push(JSON.parse(String(d))))
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
    ws.send(JSON.stringify({ _id: 1, cmd: 'startConsuming', path: 'builds/*/*' }))
    await waitFor(async () => frames.some((f) => f._id === 1), 'subscription')
    return { who, ws, frames }
  }))
  await master!.control.force('force-secret', { reason: 'secret' }, 'tester')
  await master!.control.force('force-acme', { reason: 'public' }, 'tester')
  const finished = (f: Record<string, unknown>, id: number) => {
    const m = f.m as { buildid?: number; builderid?: number } | undefined
    return !!m && f.k === `builds/${m.buildid}/finished` && m.builderid === id
  }
  const acmeApp = (await k.selectFrom('builders').select('builderid').where('name', '=', 'acme-app').executeTakeFirstOrThrow()).builderid
  for (const s of sockets) {
    // The public build's end comes after the secret one's events were decided.
    await waitFor(async () => s.frames.some((f) => finished(f, acmeApp)), `${s.who}'s public event`)
    await waitFor(async () => !sees[s.who] || s.frames.some((f) => finished(f, builder)), `${s.who}'s secret event`)
    assert.is(s.frames.some((f) => (f.m as { builderid?: number } | undefined)?.builderid === builder), sees[s.who], `${s.who} gets the secret builder's events`)
    s.ws.close()
  }
})

test('a private repository: its changes, sourcestamps and buildsets are shown to its organisation and admins only, over HTTP and /ws', async ({ url, creds, master }) => {
  const k = master!.data.db.k
  const sees: Expect = only('member', 'admin', 'token')
  const headersFor = (who: Who) => { const c = creds![who]; return !c ? {} : 'cookie' in c ? { cookie: c.cookie } : 'bearer' in c ? { authorization: `Bearer ${c.bearer}` } : {} }
  const sockets = await Promise.all(WHO.map(async (who) => {
    const ws = new WebSocket(`${url!.replace('http', 'ws')}ws`, { headers: headersFor(who) })
    const frames: Record<string, unknown>[] = []
    ws.on('message', (d) => frames.push(JSON.parse(String(d))))
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
    ws.send(JSON.stringify({ _id: 1, cmd: 'startConsuming', path: 'changes/*/new' }))
    ws.send(JSON.stringify({ _id: 2, cmd: 'startConsuming', path: 'buildsets/*/*' }))
    await waitFor(async () => frames.some((f) => f._id === 1) && frames.some((f) => f._id === 2), 'subscriptions')
    return { who, ws, frames }
  }))
  // A push to the private repository and one to a public one; a forced build of the private builder (its sourcestamp names no repository).
  const secret = await master!.data.changes.addChange({ author: 'carol', branch: 'main', revision: 'f'.repeat(40), repository: SECRET_URL, project: 'acme/secret', comments: 'secret plans' })
  const forced = await master!.control.force('force-secret', { reason: 'forced secret' }, 'tester')
  const pub = await master!.data.changes.addChange({ author: 'carol', branch: 'main', revision: 'e'.repeat(40), repository: 'https://github.com/acme/app.git', project: 'acme/app' })
  const setOf = async (changeid: number) => {
    const ssid = (await k.selectFrom('changes').select('sourcestampid').where('changeid', '=', changeid).executeTakeFirstOrThrow()).sourcestampid
    return waitFor(async () => !!(await k.selectFrom('buildset_sourcestamps').select('buildsetid').where('sourcestampid', '=', ssid).executeTakeFirst()), `change ${changeid} scheduled`)
      .then(async () => ({ ssid, bsid: (await k.selectFrom('buildset_sourcestamps').select('buildsetid').where('sourcestampid', '=', ssid).executeTakeFirstOrThrow()).buildsetid }))
  }
  const secretSet = await setOf(secret.changeid), pubSet = await setOf(pub.changeid)
  for (const bsid of [secretSet.bsid, forced[0], pubSet.bsid]) await waitFor(async () => (await k.selectFrom('buildsets').select('complete').where('bsid', '=', bsid).executeTakeFirstOrThrow()).complete === 1, `buildset ${bsid} complete`)

  for (const who of WHO) {
    const list = async (path: string, plural: string) => (JSON.parse((await get(url!, `api/v2/${path}`, creds![who])).text) as Record<string, Record<string, unknown>[]>)[plural]!
    const changes = await list('changes', 'changes')
    assert.is(changes.some((c) => c.changeid === secret.changeid), sees[who], `${who} lists the private change`)
    assert.ok(changes.some((c) => c.changeid === pub.changeid), `${who} lists the public change`)
    const stamps = await list('sourcestamps', 'sourcestamps')
    assert.is(stamps.some((x) => x.ssid === secretSet.ssid), sees[who], `${who} lists the private sourcestamp`)
    assert.ok(stamps.some((x) => x.ssid === pubSet.ssid), `${who} lists the public sourcestamp`)
    const sets = (await list('buildsets', 'buildsets')).map((b) => b.bsid)
    assert.is(sets.includes(secretSet.bsid), sees[who], `${who} lists the private push's buildset`)
    assert.is(sets.includes(forced[0]), sees[who], `${who} lists the private builder's forced buildset`)
    assert.ok(sets.includes(pubSet.bsid), `${who} lists the public buildset`)
    for (const path of [`changes/${secret.changeid}`, `sourcestamps/${secretSet.ssid}`, `sourcestamps/${secretSet.ssid}/changes`, `buildsets/${secretSet.bsid}`, `buildsets/${forced[0]}`, `buildsets/${forced[0]}/properties`]) {
      const { status } = await get(url!, `api/v2/${path}`, creds![who])
      assert.is(status, sees[who] ? 200 : 404, `${who} GET ${path}`)
    }
    assert.is((await get(url!, `api/v2/changes/${pub.changeid}`, creds![who])).status, 200, `${who} GET the public change`)
  }
  const about = (f: Record<string, unknown>, kind: string, id: number) => typeof f.k === 'string' && f.k.startsWith(`${kind}/${id}/`)
  for (const s of sockets) {
    // The public buildset completes after the private events were decided.
    await waitFor(async () => s.frames.some((f) => f.k === `buildsets/${pubSet.bsid}/complete`), `${s.who}'s public buildset`)
    assert.ok(s.frames.some((f) => about(f, 'changes', pub.changeid)), `${s.who} gets the public change`)
    assert.is(s.frames.some((f) => about(f, 'changes', secret.changeid)), sees[s.who], `${s.who} gets the private change`)
    assert.is(s.frames.some((f) => about(f, 'buildsets', secretSet.bsid)), sees[s.who], `${s.who} gets the private push's buildset`)
    assert.is(s.frames.some((f) => about(f, 'buildsets', forced[0])), sees[s.who], `${s.who} gets the forced private buildset`)
    if (!sees[s.who]) assert.not.ok(JSON.stringify(s.frames).includes('secret plans'), `${s.who} never sees the private commit message`)
    s.ws.close()
  }
})

test('bad input is refused and changes nothing: forged cookie, wrong state, revoked token', async ({ url, creds, master }) => {
  const k = master!.data.db.k
  const count = async () => Number((await k.selectFrom('buildsets').select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
  const before = await count()
  const member = creds!.member as { cookie: string; csrf: string }
  const forged = { cookie: member.cookie.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')), csrf: member.csrf }
  const r1 = await rpc(url!, 'forceschedulers/force-acme', 'force', {}, forged)
  assert.is(r1.status, 403, 'a forged cookie is no session: anonymous may not force')
  const r2 = await fetch(`${url}auth/github/callback?code=x&state=wrong`, { redirect: 'manual' })
  assert.is(r2.status, 400)
  const r3 = await rpc(url!, 'forceschedulers/force-acme', 'force', {}, { bearer: 'bbn_not-a-token' })
  assert.is(r3.status, 401)
  // Carol lists and revokes her token; it no longer works.
  const list = await rpc(url!, 'auth/tokens', 'list', {}, creds!.member)
  const mine = (list.body.result as { tokenid: number; name: string }[]).filter((t) => t.name === 'matrix')
  assert.is(mine.length, 1)
  assert.is((await rpc(url!, `auth/tokens/${mine[0]!.tokenid}`, 'revoke', {}, creds!.other)).status, 404, "zed cannot revoke carol's token")
  assert.is((await rpc(url!, `auth/tokens/${mine[0]!.tokenid}`, 'revoke', {}, creds!.member)).status, 200)
  const r4 = await rpc(url!, 'forceschedulers/force-acme', 'force', {}, creds!.token)
  assert.is(r4.status, 401)
  assert.is(await count(), before)
})

test.run()
