import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../../test/support/tools.ts'
import { builder, createMaster, defineMaster, definePlugin, localWorker, schedulers, steps, type Master } from '../../core/index.ts'
import { resolveConfig } from '../../core/config/resolve.ts'
import { newPage, screenshot } from '../../ui/test/browser.ts'
import { createHarness, type Harness } from '../../ui/test/harness.ts'
import { freePort } from '../../ui/test/free-port.ts'
import { auth, type AuthOptions } from './index.ts'
import { startIdp, type Idp } from './testing/idp.ts'
import { startGithubStandIn, type GithubStandIn } from './testing/github-standin.ts'
import { rpc } from './testing/http-client.ts'

interface Ctx { h?: Harness; idp?: Idp; gh?: GithubStandIn; dirs: string[]; masters: Master[] }
const test = suite<Ctx>('auth: sign-in round trips in real Chromium against oauth2-mock-server', { dirs: [], masters: [] })
const enabled = haveTool('chromium', 'apt-get install -y chromium')
const it = enabled ? test : test.skip

const carol = { sub: 'carol', preferred_username: 'carol', email: 'carol@acme.example', name: 'Carol Acme', groups: ['acme'] }
const olga = { sub: 'olga', preferred_username: 'olga', email: 'olga@acme.example', name: 'Olga Oidc', groups: ['acme', 'staff'] }

const testProjects = definePlugin({
  name: 'test-projects',
  setup(api) {
    api.onStart(async (rt) => {
      await rt.projects.add({ name: 'acme/app', forge: 'github', owner: 'acme', cloneUrl: 'https://github.com/acme/app.git', private: false })
      await rt.projects.add({ name: 'zeta/lib', forge: 'github', owner: 'zeta', cloneUrl: 'https://github.com/zeta/lib.git', private: false })
    })
  },
})

/** A master signing in with `opts`, serving the built UI, with one finished build of acme/app and of zeta/lib. */
async function startMaster(ctx: Ctx, opts: AuthOptions): Promise<{ master: Master; url: string; acme: number; zeta: number }> {
  const basedir = await mkdtemp(join(tmpdir(), 'bbn-auth-e2e-'))
  ctx.dirs.push(basedir)
  await writeFile(join(basedir, 'oauth-secret'), 'client-secret\n')
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/`
  const quick = (name: string, project: string) => builder({ name, project, workers: ['local'], steps: [steps.shell({ name: 'work', command: ['true'] })] })
  const config = await resolveConfig(defineMaster({
    title: 'sign-in e2e', basedir, db: `sqlite:${join(basedir, 'state.sqlite')}`, logLevel: 'error',
    www: { host: '127.0.0.1', port, auth: { provider: opts.authBackend } }, buildbotURL: url,
    plugins: [auth(opts), testProjects({})],
    workers: [localWorker({ name: 'local', maxBuilds: 4 })],
    builders: [quick('acme-app', 'acme/app'), quick('zeta-lib', 'zeta/lib')],
    schedulers: [schedulers.force({ name: 'force-acme', builderNames: ['acme-app'] }), schedulers.force({ name: 'force-zeta', builderNames: ['zeta-lib'] })],
  }), join(basedir, 'master.config.ts'))
  const master = createMaster({ config, uiDir: ctx.h!.dist })
  ctx.masters.push(master)
  await master.start()
  await master.control.force('force-acme', { reason: 'seed' }, 'tester')
  await master.control.force('force-zeta', { reason: 'seed' }, 'tester')
  const k = master.data.db.k
  const id = async (name: string) => (await k.selectFrom('builders').select('builderid').where('name', '=', name).executeTakeFirstOrThrow()).builderid
  return { master, url, acme: await id('acme-app'), zeta: await id('zeta-lib') }
}

test.before(async (ctx) => {
  if (!enabled) return
  ctx.h = await createHarness()
  ctx.idp = await startIdp(carol)
  ctx.gh = await startGithubStandIn({ idp: ctx.idp.url, accounts: { carol: { login: 'carol', name: 'Carol Acme', email: 'carol@acme.example', orgs: ['acme'], teams: [{ org: 'acme', slug: 'core' }] } } })
})

test.after(async (ctx) => {
  for (const m of ctx.masters) await m.stop()
  for (const d of ctx.dirs) await rm(d, { recursive: true, force: true })
  await ctx.gh?.close()
  await ctx.idp?.close()
  await ctx.h?.close()
})

it('GitHub: carol signs in, rebuilds her organisation\'s build, makes an API token, uses it, revokes it, logs out', async (ctx) => {
  const { idp, gh } = ctx
  const { master, url, acme, zeta } = await startMaster(ctx, { authBackend: 'github', github: { oauthId: 'bbn-client', oauthSecretFile: 'oauth-secret', url: gh!.url, apiUrl: gh!.url } })
  idp!.nextUser = carol
  const { page, errors, close } = await newPage(ctx.h!.browser)
  await page.goto(`${url}#/builders/${acme}/builds/1`)
  await page.locator('.badge.success').first().waitFor({ timeout: 60_000 })
  assert.not.ok(await page.locator('bb-action button', { hasText: 'Rebuild' }).isEnabled(), 'anonymous may not rebuild')

  const redeemed = idp!.redeemed.length
  await page.locator('header a', { hasText: 'Sign in with GitHub' }).click()
  await page.waitForURL(`${url}#/builders/${acme}/builds/1`)
  await page.locator('header', { hasText: 'Carol Acme' }).waitFor()
  assert.is(idp!.redeemed.length, redeemed + 1, 'one code was redeemed (with its PKCE verifier)')
  assert.equal(gh!.mismatches, [])
  await screenshot(page, 'auth-github-signed-in')

  await page.locator('bb-action button', { hasText: 'Rebuild' }).click()
  // An accepted rebuild opens the new request's page (then its build).
  await page.waitForURL((u) => /#\/(buildrequests\/\d+|builders\/\d+\/builds\/2)/.test(u.href), { timeout: 60_000 })
  await page.goto(`${url}#/builders/${zeta}/builds/1`)
  await page.locator('h1', { hasText: 'zeta-lib #1' }).waitFor({ timeout: 60_000 })
  await page.locator('.badge.success').first().waitFor({ timeout: 60_000 })
  await page.locator('bb-action button', { hasText: 'Rebuild' }).click()
  await page.locator('bb-action [role=alert]', { hasText: "Forbidden: you need to have role 'admin'" }).waitFor()

  // API tokens: made in the UI, shown once, used by a script, revoked in the UI.
  await page.locator('header a', { hasText: 'API tokens' }).click()
  await page.locator('input[name=name]').fill('deploy script')
  await page.locator('button', { hasText: 'Create token' }).click()
  const token = (await page.locator('[data-token]').textContent())!.trim()
  assert.match(token, /^bbn_[A-Za-z0-9_-]{43}$/)
  await page.locator('table', { hasText: 'deploy script' }).waitFor()
  const used = await rpc(url, 'forceschedulers/force-acme', 'force', { reason: 'from a script' }, { bearer: token })
  assert.is(used.status, 200, JSON.stringify(used.body))
  const stored = await master.data.db.k.selectFrom('auth_tokens' as never).selectAll().execute() as { token_hash: string }[]
  assert.ok(stored.length === 1 && stored[0]!.token_hash !== token && !JSON.stringify(stored).includes(token), 'only a hash is stored')
  await page.locator('button[aria-label="Revoke deploy script"]').click()
  await page.locator('text=No tokens yet.').waitFor()
  assert.is((await rpc(url, 'forceschedulers/force-acme', 'force', {}, { bearer: token })).status, 401)
  await page.reload()
  assert.is(await page.locator('[data-token]').count(), 0, 'the token is not shown again')

  await page.locator('header button', { hasText: 'Logout' }).click()
  await page.locator('header a', { hasText: 'Sign in with GitHub' }).waitFor()
  assert.equal(errors.filter((e) => !/403|401/.test(e)), [])
  await close()
})

it('OIDC: olga signs in through discovery; her groups claim makes her a member of acme', async (ctx) => {
  const { idp } = ctx
  const { url, acme, zeta } = await startMaster(ctx, {
    authBackend: 'oidc', admins: [],
    oidc: { name: 'Mock SSO', discoveryUrl: `${idp!.url}/.well-known/openid-configuration`, clientId: 'bbn-oidc', clientSecretFile: 'oauth-secret', mapping: { groups: 'groups' } },
  })
  idp!.nextUser = olga
  const { page, errors, close } = await newPage(ctx.h!.browser)
  await page.goto(`${url}#/builders/${acme}/builds/1`)
  await page.locator('.badge.success').first().waitFor({ timeout: 60_000 })
  await page.locator('header a', { hasText: 'Sign in with Mock SSO' }).click()
  await page.waitForURL(`${url}#/builders/${acme}/builds/1`)
  await page.locator('header', { hasText: 'Olga Oidc' }).waitFor()
  const config = await page.evaluate(async () => (await fetch('config')).json()) as { user: Record<string, unknown> }
  assert.equal(config.user, { username: 'olga', email: 'olga@acme.example', full_name: 'Olga Oidc', groups: ['acme', 'staff'] })
  await screenshot(page, 'auth-oidc-signed-in')
  await page.locator('bb-action button', { hasText: 'Rebuild' }).click()
  // An accepted rebuild opens the new request's page (then its build).
  await page.waitForURL((u) => /#\/(buildrequests\/\d+|builders\/\d+\/builds\/2)/.test(u.href), { timeout: 60_000 })
  await page.goto(`${url}#/builders/${zeta}/builds/1`)
  await page.locator('h1', { hasText: 'zeta-lib #1' }).waitFor({ timeout: 60_000 })
  await page.locator('.badge.success').first().waitFor({ timeout: 60_000 })
  await page.locator('bb-action button', { hasText: 'Rebuild' }).click()
  await page.locator('bb-action [role=alert]', { hasText: 'Forbidden' }).waitFor()
  assert.equal(errors.filter((e) => !/403/.test(e)), [])
  await close()
})

test.run()
