import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createServer, type Server } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../../test/support/tools.ts'
import { defineMaster, localWorker, builder, steps, schedulers, createMaster, type Master } from '../../core/index.ts'
import { resolveConfig } from '../../core/config/resolve.ts'
import { example } from '../../test/fixtures/example-plugin/index.ts'
import { nix } from '../../plugins/nix/index.ts'
import { newPage, screenshot } from './browser.ts'
import { createHarness, type Harness } from './harness.ts'
import { freePort } from './free-port.ts'

interface Idp { server: Server; url: string; codes: Map<string, string>; exchanged: string[] }
const test = suite<{ h?: Harness; idp?: Idp; master?: Master; basedir?: string; url?: string }>('login through a plugin\'s provider, in real Chromium')
const enabled = haveTool('chromium', 'apt-get install -y chromium')
const it = enabled ? test : test.skip

/**
 * A stand-in OAuth identity provider on loopback: `/authorize` approves at once (the user is
 * carol, member of the `acme` organisation) and sends the browser back with a code and the state;
 * `/token` exchanges a code once for the user.
 */
async function startIdp(): Promise<Idp> {
  const codes = new Map<string, string>()
  const exchanged: string[] = []
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://idp')
    if (u.pathname === '/authorize') {
      const code = `code-${codes.size + 1}`
      codes.set(code, u.searchParams.get('client_id') ?? '')
      const back = new URL(u.searchParams.get('redirect_uri')!)
      back.searchParams.set('code', code)
      back.searchParams.set('state', u.searchParams.get('state') ?? '')
      res.writeHead(302, { location: back.href }).end()
      return
    }
    if (u.pathname === '/token' && req.method === 'POST') {
      let body = ''
      req.on('data', (d) => { body += d })
      req.on('end', () => {
        const code = new URLSearchParams(body).get('code') ?? ''
        if (!codes.delete(code)) { res.writeHead(400).end('bad code'); return }
        exchanged.push(code)
        res.writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ login: 'carol', email: 'carol@acme.example', name: 'Carol Acme', orgs: ['acme'] }))
      })
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, codes, exchanged }
}

test.before(async (ctx) => {
  if (!enabled) return
  ctx.h = await createHarness()
  ctx.idp = await startIdp()
  ctx.basedir = await mkdtemp(join(tmpdir(), 'bb-ui-plugin-login-'))
  const port = await freePort()
  ctx.url = `http://127.0.0.1:${port}/`
  const quick = (name: string, project: string) =>
    builder({ name, project, workers: ['local'], steps: [steps.shell({ name: 'work', command: ['sh', '-c', 'echo built'] })] })
  const config = await resolveConfig(defineMaster({
    title: 'Plugin login e2e', basedir: ctx.basedir, db: `sqlite:${join(ctx.basedir, 'state.sqlite')}`, logLevel: 'error',
    www: { host: '127.0.0.1', port, auth: { provider: 'example' } }, buildbotURL: ctx.url,
    plugins: [nix({ workers: ['local'], projects: [] }), example({ login: { issuer: ctx.idp.url } })],
    workers: [localWorker({ name: 'local', maxBuilds: 4 })],
    builders: [quick('acme-app', 'acme/app'), quick('zeta-lib', 'zeta/lib')],
    schedulers: [schedulers.force({ name: 'force-acme', builderNames: ['acme-app'] }), schedulers.force({ name: 'force-zeta', builderNames: ['zeta-lib'] })],
  }), join(ctx.basedir, 'master.config.ts'))
  ctx.master = createMaster({ config, uiDir: ctx.h.dist })
  await ctx.master.start()
})

test.after(async (ctx) => {
  await ctx.master?.stop()
  if (ctx.basedir) await rm(ctx.basedir, { recursive: true, force: true })
  await new Promise((r) => ctx.idp ? ctx.idp.server.close(r) : r(undefined))
  await ctx.h?.close()
})

it('carol signs in with the example provider; its role matcher lets her act on her organisation\'s project only', async ({ h, idp, master, url }) => {
  await master!.control.force('force-acme', { reason: 'first' }, 'tester')
  await master!.control.force('force-zeta', { reason: 'first' }, 'tester')
  const { page, errors, close } = await newPage(h!.browser)
  await page.goto(`${url}#/builders/1/builds/1`)
  await page.locator('.badge.success').first().waitFor({ timeout: 60_000 })
  assert.not.ok(await page.locator('bb-action button', { hasText: 'Rebuild' }).isEnabled(), 'anonymous may not rebuild')

  // The header's sign-in goes to the provider and back through /auth/example/callback.
  await page.locator('header a', { hasText: 'Sign in with Example' }).click()
  await page.waitForURL(`${url}#/builders/1/builds/1`)
  await page.locator('header', { hasText: 'Carol Acme' }).waitFor()
  assert.equal(idp!.exchanged, ['code-1'])
  await screenshot(page, 'plugin-login')

  // acme/app belongs to carol's organisation: the rebuild is accepted.
  const rebuild = page.locator('bb-action button', { hasText: 'Rebuild' })
  assert.ok(await rebuild.isEnabled())
  await rebuild.click()
  // An accepted rebuild opens the new request's page (then its build).
  await page.waitForURL((u) => /#\/(buildrequests\/\d+|builders\/1\/builds\/2)/.test(u.href), { timeout: 60_000 })

  // zeta/lib does not: the UI offers the button (carol may act somewhere), the master refuses.
  await page.goto(`${url}#/builders/2/builds/1`)
  await page.locator('h1', { hasText: 'zeta-lib #1' }).waitFor({ timeout: 60_000 })
  await page.locator('.badge.success').first().waitFor({ timeout: 60_000 })
  await page.locator('bb-action button', { hasText: 'Rebuild' }).click()
  await page.locator('bb-action [role=alert]', { hasText: "Forbidden: you need to have role 'admin'" }).waitFor()
  const zetaBuilds = await master!.data.db.k.selectFrom('builds').select('buildid').where('builderid', '=', 2).execute()
  assert.is(zetaBuilds.length, 1)

  await page.locator('header button', { hasText: 'Logout' }).click()
  await page.locator('header a', { hasText: 'Sign in with Example' }).waitFor()
  assert.equal(errors.filter((e) => !/403/.test(e)), [])
  await close()
})

it('a callback whose state was not issued to this browser is refused', async ({ idp, url }) => {
  const res = await fetch(`${url}auth/example/callback?code=code-x&state=forged`, { redirect: 'manual' })
  assert.is(res.status, 400)
  assert.match(await res.text(), /not started here/)
  assert.not.ok(res.headers.get('set-cookie')?.includes('TWISTED_SESSION='))
  assert.not.ok(idp!.exchanged.includes('code-x'))
})

test.run()
