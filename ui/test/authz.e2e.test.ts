import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { haveTool } from '../../test/support/tools.ts'
import { defineMaster, localWorker, builder, steps, schedulers, createMaster, hashPassword, type Master } from '../../core/index.ts'
import { resolveConfig } from '../../core/config/resolve.ts'
import { newPage, screenshot } from './browser.ts'
import { createHarness, type Harness } from './harness.ts'
import { freePort } from './free-port.ts'

interface Running { master: Master; basedir: string; url: string }
const test = suite<{ h?: Harness; open?: Running; locked?: Running }>('who may act from the UI, against real masters')
const enabled = haveTool('chromium', 'apt-get install -y chromium')
const it = enabled ? test : test.skip

test.before(async (ctx) => {
  if (!enabled) return
  ctx.h = await createHarness()
  ctx.open = await startMaster(ctx.h.dist, 'bb-ui-authz-open-', undefined)
  ctx.locked = await startMaster(ctx.h.dist, 'bb-ui-authz-locked-', { users: { alice: hashPassword('pw') } })
})

test.after(async (ctx) => {
  for (const m of [ctx.open, ctx.locked]) {
    await m?.master.stop()
    if (m) await rm(m.basedir, { recursive: true, force: true })
  }
  await ctx.h?.close()
})

it('loopback master without auth: anyone may rebuild, and the new build finishes live', async ({ h, open }) => {
  const { page, errors, close } = await newPage(h!.browser)
  await open!.master.control.force('force-quick', { reason: 'first' }, 'tester')
  await page.goto(`${open!.url}#/builders/1/builds/1`)
  await page.locator('.badge.success').first().waitFor({ timeout: 60_000 })
  const rebuild = page.locator('bb-action button', { hasText: 'Rebuild' })
  assert.ok(await rebuild.isEnabled(), 'Rebuild is offered to anonymous on a loopback master without auth')
  await markPage(page)
  await rebuild.click()
  // The rebuild opens the new build (a hash change, not a reload), which finishes live.
  await page.locator('h1', { hasText: 'quick #2' }).waitFor({ timeout: 60_000 })
  await page.locator('main p .badge.success').waitFor({ timeout: 60_000 })
  await page.locator('nav[aria-label=Breadcrumb] a', { hasText: 'quick' }).click()
  await page.locator('table[aria-label=builds] tr', { hasText: '#2' }).locator('.badge.success').waitFor({ timeout: 60_000 })
  assert.ok(await stillSamePage(page), 'no reload happened')
  assert.equal(errors, [])
  await close()
})

it('user/password master: anonymous is read-only with reasons and a 403; alice logs in and may act', async ({ h, locked }) => {
  const url = locked!.url
  const master = locked!.master
  await master.control.force('force-quick', { reason: 'first' }, 'tester')
  await master.control.force('force-slow', { reason: 'long' }, 'tester')
  const { page, close } = await newPage(h!.browser)

  // Anonymous: the build's controls are disabled with the reason.
  await page.goto(`${url}#/builders/1/builds/1`)
  await page.locator('.badge.success').first().waitFor({ timeout: 60_000 })
  const rebuild = page.locator('bb-action button', { hasText: 'Rebuild' })
  assert.not.ok(await rebuild.isEnabled())
  await page.locator('bb-action', { hasText: 'Log in to rebuild' }).waitFor()
  await page.goto(`${url}#/builders/2/builds/1`)
  const stop = page.locator('bb-action button', { hasText: 'Stop' })
  await stop.waitFor()
  assert.not.ok(await stop.isEnabled())
  await page.locator('bb-action', { hasText: 'Log in to stop' }).waitFor()
  await page.goto(`${url}#/builders/1`)
  const force = page.locator('bb-force-form button.primary').first()
  await force.waitFor()
  assert.not.ok(await force.isEnabled())
  await page.locator('bb-force-form', { hasText: 'Log in to force' }).waitFor()
  await page.locator('header a', { hasText: 'Login' }).waitFor()
  await screenshot(page, 'authz-anonymous')

  // The server refuses the same action, whatever the page offers.
  const direct = await page.request.post(`${url}api/v2/builds/1`, {
    headers: { 'content-type': 'application/json', origin: url.replace(/\/$/, '') },
    data: { jsonrpc: '2.0', method: 'rebuild', params: {}, id: 1 },
  })
  assert.is(direct.status(), 403)

  // The login form: Login in the header leads to it, the master sets the session cookie and the
  // page loads again where it was, with alice's config.
  await page.goto(`${url}#/builders/2/builds/1`)
  await page.locator('header a', { hasText: 'Login' }).click()
  await page.waitForURL(`${url}#/login?redirect=${encodeURIComponent('/builders/2/builds/1')}`)
  await page.fill('input[name=password]', 'wrong')
  await page.fill('input[name=username]', 'alice')
  await page.click('bb-login-page button[type=submit]')
  await page.locator('bb-login-page [role=alert]', { hasText: 'wrong user name or password' }).waitFor()
  await screenshot(page, 'login-form')
  await page.fill('input[name=password]', 'pw')
  await page.click('bb-login-page button[type=submit]')
  await page.waitForURL(`${url}#/builders/2/builds/1`)
  await page.locator('header', { hasText: 'alice' }).waitFor()
  // The session alone does not let a page act: control requests need the CSRF token the UI sends.
  const noToken = await page.request.post(`${url}api/v2/builds/2`, {
    headers: { 'content-type': 'application/json', origin: url.replace(/\/$/, '') },
    data: { jsonrpc: '2.0', method: 'stop', params: {}, id: 1 },
  })
  assert.is(noToken.status(), 403)
  const stopNow = page.locator('bb-action button', { hasText: 'Stop' })
  await stopNow.waitFor()
  assert.ok(await stopNow.isEnabled())
  await stopNow.click()
  // Stop asks for a reason and a confirmation first.
  await page.locator('bb-action dialog button[value=confirm]').click()
  await page.locator('.badge.cancelled').first().waitFor({ timeout: 60_000 })

  await page.goto(`${url}#/builders/1/builds/1`)
  const rebuildNow = page.locator('bb-action button', { hasText: 'Rebuild' })
  await rebuildNow.waitFor()
  assert.ok(await rebuildNow.isEnabled())
  await screenshot(page, 'authz-logged-in')
  await markPage(page)
  await rebuildNow.click()
  // The rebuild opens the new build (through its request's page).
  await page.locator('h1', { hasText: 'quick #2' }).waitFor({ timeout: 60_000 })
  await page.locator('nav[aria-label=Breadcrumb] a', { hasText: 'quick' }).click()
  await page.locator('table[aria-label=builds] tr', { hasText: '#2' }).locator('.badge.success').waitFor({ timeout: 60_000 })
  assert.ok(await stillSamePage(page))
  assert.ok(await page.locator('bb-force-form button.primary').first().isEnabled())
  await page.locator('header button', { hasText: 'Logout' }).click()
  await page.locator('header a', { hasText: 'Login' }).waitFor()
  assert.not.ok(await page.locator('bb-force-form button.primary').first().isEnabled())
  await close()
})

async function startMaster(uiDir: string, prefix: string, auth: { users: Record<string, string> } | undefined): Promise<Running> {
  const basedir = await mkdtemp(join(tmpdir(), prefix))
  // buildbotURL must name the real port: the master checks a POST's Origin against it.
  const port = await freePort()
  const config = await resolveConfig(defineMaster({
    title: 'Authz e2e', basedir, db: `sqlite:${join(basedir, 'state.sqlite')}`, logLevel: 'error',
    www: { host: '127.0.0.1', port, ...(auth ? { auth } : {}) }, buildbotURL: `http://127.0.0.1:${port}/`,
    workers: [localWorker({ name: 'local', maxBuilds: 4 })],
    builders: [
      builder({ name: 'quick', workers: ['local'], steps: [steps.shell({ name: 'work', command: ['sh', '-c', 'sleep 1; echo built'] })] }),
      builder({ name: 'slow', workers: ['local'], steps: [steps.shell({ name: 'wait', command: ['sleep', '120'] })] }),
    ],
    schedulers: [
      schedulers.force({ name: 'force-quick', builderNames: ['quick'] }),
      schedulers.force({ name: 'force-slow', builderNames: ['slow'] }),
    ],
  }), join(basedir, 'master.config.ts'))
  const master = createMaster({ config, uiDir })
  await master.start()
  return { master, basedir, url: `http://127.0.0.1:${port}/` }
}

/** A property on window that a reload would lose. */
async function markPage(page: Page): Promise<void> {
  await page.evaluate(() => { (window as unknown as { __mark: boolean }).__mark = true })
}
async function stillSamePage(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as unknown as { __mark?: boolean }).__mark === true)
}

test.run()
