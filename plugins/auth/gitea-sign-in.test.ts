import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { builder, createMaster, defineMaster, definePlugin, localWorker, schedulers, steps, type Master } from '../../core/index.ts'
import { resolveConfig } from '../../core/config/resolve.ts'
import { freePort } from '../../ui/test/free-port.ts'
import { auth } from './index.ts'
import { startIdp, type Idp } from './testing/idp.ts'
import { startGiteaSignInStandIn, type GiteaSignInStandIn } from './testing/gitea-standin.ts'
import { rpc, signIn } from './testing/http-client.ts'

interface Ctx { idp?: Idp; gitea?: GiteaSignInStandIn; master?: Master; basedir?: string; url?: string }
const test = suite<Ctx>('auth: Gitea sign-in')
const gina = { sub: 'gina', preferred_username: 'gina', email: 'gina@acme.example', name: 'Gina Gitea' }

const projects = definePlugin({
  name: 'test-projects',
  setup(api) {
    api.onStart(async (rt) => {
      await rt.projects.add({ name: 'acme/app', forge: 'gitea', owner: 'acme', cloneUrl: 'https://git.example.org/acme/app.git', private: false })
      await rt.projects.add({ name: 'acme/gh-app', forge: 'github', owner: 'acme', cloneUrl: 'https://github.com/acme/gh-app.git', private: false })
    })
  },
})

test.before(async (ctx) => {
  ctx.idp = await startIdp(gina)
  ctx.gitea = await startGiteaSignInStandIn({ idp: ctx.idp.url, accounts: { gina: { login: 'gina', full_name: 'Gina Gitea', email: 'gina@acme.example', orgs: ['acme'] } } })
  ctx.basedir = await mkdtemp(join(tmpdir(), 'bbn-auth-gitea-'))
  await writeFile(join(ctx.basedir, 'gitea-oauth-secret'), 'client-secret\n')
  const port = await freePort()
  ctx.url = `http://127.0.0.1:${port}/`
  const noop = (name: string, project: string) => builder({ name, project, workers: ['local'], steps: [steps.shell({ name: 'work', command: ['true'] })] })
  const config = await resolveConfig(defineMaster({
    basedir: ctx.basedir, db: `sqlite:${join(ctx.basedir, 'state.sqlite')}`, logLevel: 'error',
    www: { host: '127.0.0.1', port, auth: { provider: 'gitea' } }, buildbotURL: ctx.url,
    plugins: [auth({ authBackend: 'gitea', gitea: { instanceUrl: ctx.gitea.url, oauthId: 'bbn-gitea', oauthSecretFile: 'gitea-oauth-secret' } }), projects({})],
    workers: [localWorker({ name: 'local' })],
    builders: [noop('acme-app', 'acme/app'), noop('acme-gh-app', 'acme/gh-app')],
    schedulers: [schedulers.force({ name: 'force-app', builderNames: ['acme-app'] }), schedulers.force({ name: 'force-gh-app', builderNames: ['acme-gh-app'] })],
  }), join(ctx.basedir, 'master.config.ts'))
  ctx.master = createMaster({ config })
  await ctx.master.start()
})

test.after(async (ctx) => {
  await ctx.master?.stop()
  await ctx.gitea?.close()
  await ctx.idp?.close()
  if (ctx.basedir) await rm(ctx.basedir, { recursive: true, force: true })
})

test('gina signs in with Gitea (state, PKCE), her organisations become groups; she may force the Gitea project of her organisation only', async ({ url, gitea, idp }) => {
  const s = await signIn(url!, 'gitea')
  assert.equal(s.user, { username: 'gina', email: 'gina@acme.example', full_name: 'Gina Gitea', groups: ['acme'] })
  const authorize = new URL(s.hops[0]!.location!)
  assert.is(authorize.origin + authorize.pathname, `${gitea!.url}/login/oauth/authorize`)
  assert.is(authorize.searchParams.get('code_challenge_method'), 'S256')
  assert.ok(authorize.searchParams.get('state'))
  assert.equal(gitea!.mismatches, [])
  assert.equal(gitea!.served.sort(), ['/api/v1/user', '/api/v1/user/orgs'])
  assert.is(idp!.redeemed.length, 1)
  assert.is((await rpc(url!, 'forceschedulers/force-app', 'force', {}, s)).status, 200)
  const other = await rpc(url!, 'forceschedulers/force-gh-app', 'force', {}, s)
  assert.is(other.status, 403, "a GitHub project of an organisation with the same name is not hers")
})

test('a replayed callback (same code, same state cookie) is refused', async ({ url }) => {
  let res = await fetch(`${url}auth/gitea/login`, { redirect: 'manual' })
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ')
  let next = res.headers.get('location')!
  while (!next.startsWith(url!)) { res = await fetch(next, { redirect: 'manual' }); next = res.headers.get('location')! }
  const first = await fetch(next, { redirect: 'manual', headers: { cookie } })
  assert.is(first.status, 302)
  const again = await fetch(next, { redirect: 'manual', headers: { cookie } })
  assert.is(again.status, 403)
  assert.match(await again.text(), /already completed/)
  assert.not.ok(again.headers.getSetCookie().some((c) => /^TWISTED_SESSION=[^;]/.test(c)))
})

test.run()
