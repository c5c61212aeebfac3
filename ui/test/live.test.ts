import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { haveTool } from '../../test/support/tools.ts'
import { newPage, screenshot } from './browser.ts'
import { createHarness, type Harness } from './harness.ts'
import { makeFixtures, makeJob, EVAL_BUILD, LOG_ID } from './fixtures.ts'

const test = suite<{ h?: Harness }>('live ui in chromium')
const enabled = haveTool('chromium', 'apt-get install -y chromium')
const it = enabled ? test : test.skip

test.before(async (ctx) => { if (enabled) ctx.h = await createHarness() })
test.after(async (ctx) => { await ctx.h?.close() })

it('the build matrix shows failures first, filters, searches and follows nixjobs events', async ({ h }) => {
  const server = await h!.start({ data: makeFixtures({ jobs: 200 }) })
  const { page, errors, close } = await newPage(h!.browser)
  await page.goto(`${server.url}#/builds/${EVAL_BUILD}`)
  await page.locator('[data-testid=matrix-counts]', { hasText: '200 attributes' }).waitFor()
  await server.subscribed(`builds/${EVAL_BUILD}/nixjobs/*/*`)
  // What changed since the previous evaluation is shown above the matrix and may push it below the
  // fold once it arrives; the virtualizer draws only visible rows.
  await page.locator('lit-virtualizer.list').scrollIntoViewIfNeeded()
  const first = await page.locator('.job[data-attr]').first().getAttribute('data-attr')
  assert.is(first, 'x86_64-linux.pkg-00050', 'a failed attribute comes first')
  await page.locator('details[aria-label="evaluation warnings"]', { hasText: 'locked to an old revision' }).waitFor()
  await page.locator('[data-testid=timeline-stats]', { hasText: 'Slowest' }).waitFor()
  await screenshot(page, 'fixture-matrix')
  await page.locator('bb-matrix-timeline canvas').screenshot({ path: (await screenshot(page, 'fixture-matrix-timeline')) })

  await page.click('button[data-filter=failed]')
  await page.locator('lit-virtualizer[data-count="6"]').waitFor()
  await page.click('button[data-filter=all]')
  await page.fill('input[aria-label="Search attributes"]', 'pkg-0012')
  await page.locator('lit-virtualizer[data-count="10"]').waitFor()
  await page.fill('input[aria-label="Search attributes"]', '')

  // A new attribute and a failure arrive over /ws.
  server.publish(`builds/${EVAL_BUILD}/nixjobs/201/new`, makeJob(201, 'pending', Date.now()))
  server.publish(`builds/${EVAL_BUILD}/nixjobs/3/update`, { ...makeJob(3, 'failed', Date.now() - 10_000) })
  await page.locator('[data-testid=matrix-counts]', { hasText: '201 attributes' }).waitFor()
  await page.locator('button[data-filter=failed]', { hasText: 'failed (7)' }).waitFor()
  assert.equal(errors, [])
  await close()
})

it('the matrix with 5,000 attributes renders only visible rows', async ({ h }) => {
  const server = await h!.start({ data: makeFixtures({ jobs: 5000 }) })
  const { page, close } = await newPage(h!.browser, { viewport: 'phone' })
  await page.goto(`${server.url}#/builds/${EVAL_BUILD}`)
  await page.locator('[data-testid=matrix-counts]', { hasText: '5000 attributes' }).waitFor()
  await page.locator('lit-virtualizer.list').scrollIntoViewIfNeeded()
  await page.locator('.job[data-attr]').first().waitFor()
  assert.ok(await page.locator('.job[data-attr]').count() < 200)
  await screenshot(page, 'fixture-matrix', 'phone')
  await close()
})

it('the log follows appends: it fetches contents from the offset it has', async ({ h }) => {
  const server = await h!.start()
  const { page, close } = await newPage(h!.browser)
  await page.goto(`${server.url}#/builds/4/steps/0/logs/stdio`)
  await page.locator('[data-testid=line-count]', { hasText: '500 lines (running)' }).waitFor()
  await server.subscribed(`logs/${LOG_ID}/*`)
  await page.check('input[aria-label="Follow the log"]')
  const lines = server.data.logLines.get(LOG_ID)!
  lines.push('onew line one', 'e\x1b[1;31mnew failure\x1b[0m')
  server.publish(`logs/${LOG_ID}/append`, { ...server.data.logs.find((l) => l.logid === LOG_ID), num_lines: lines.length })
  await page.locator('[data-testid=line-count]', { hasText: '502 lines' }).waitFor()
  await page.locator('.line[data-line="502"]', { hasText: 'new failure' }).waitFor()
  server.publish(`logs/${LOG_ID}/finished`, { ...server.data.logs.find((l) => l.logid === LOG_ID), num_lines: lines.length, complete: true })
  await page.locator('[data-testid=line-count]', { hasText: /^502 lines$/ }).waitFor()
  await close()
})

it('after the socket drops, the UI reconnects, subscribes again and catches up', async ({ h }) => {
  const server = await h!.start()
  const { page, close } = await newPage(h!.browser)
  await page.goto(`${server.url}#/buildrequests`)
  await page.locator('tr[data-buildrequest="7"]').waitFor()
  await server.subscribed('buildrequests/*/*')
  // While disconnected, request 7 completes and 8 appears; no event reaches the page.
  const waitAgain = () => server.subscribed('buildrequests/*/*')
  server.data.buildrequests.find((r) => r.buildrequestid === 7)!.complete = true
  server.data.buildrequests.push({ ...server.data.buildrequests[5], buildrequestid: 8 })
  server.dropSockets()
  await waitAgain()
  await page.locator('tr[data-buildrequest="8"]').waitFor()
  await page.locator('tr[data-buildrequest="7"]').waitFor({ state: 'detached' })
  // Live again: a completion event removes a row.
  server.publish('buildrequests/8/complete', { ...server.data.buildrequests.at(-1), complete: true })
  await page.locator('tr[data-buildrequest="8"]').waitFor({ state: 'detached' })
  await close()
})

it('a page loaded while /ws is refused shows REST data, then subscribes once the socket comes up', async ({ h }) => {
  const server = await h!.start()
  server.refuseSockets(true)
  const { page, close } = await newPage(h!.browser)
  await page.goto(`${server.url}#/buildrequests`)
  await page.locator('tr[data-buildrequest="7"]').waitFor()
  await page.locator('[role=status]', { hasText: 'Disconnected' }).waitFor()
  server.data.buildrequests.push({ ...server.data.buildrequests[5], buildrequestid: 9 })
  const subscribed = server.subscribed('buildrequests/*/*')
  server.refuseSockets(false)
  await subscribed
  await page.locator('tr[data-buildrequest="9"]').waitFor()
  server.publish('buildrequests/9/complete', { ...server.data.buildrequests.at(-1), complete: true })
  await page.locator('tr[data-buildrequest="9"]').waitFor({ state: 'detached' })
  await close()
})

it('actions follow user_can, show a 403 and send JSON-RPC with the force fields', async ({ h }) => {
  const server = await h!.start({
    config: { auth: { name: 'GitHub', oauth2: true }, user: { anonymous: true }, user_can: { stop: false, rebuild: true, force: true, cancel: true, reload: false } },
    forbidden: [`builds/${EVAL_BUILD}`],
  })
  const { page, close } = await newPage(h!.browser)
  await page.goto(`${server.url}#/builds/${EVAL_BUILD}`)
  const stop = page.locator('bb-action[label=Stop] button')
  await stop.waitFor()
  assert.ok(await stop.isDisabled())
  assert.is(await stop.getAttribute('title'), 'Log in to stop')
  await page.locator('a', { hasText: 'Login with GitHub' }).waitFor()
  await page.click('bb-action[label=Rebuild] button')
  await page.locator('bb-action[label=Rebuild] [role=alert]', { hasText: "Forbidden: you need to have role 'admins'" }).waitFor()
  assert.equal(server.controls.at(-1), { path: `builds/${EVAL_BUILD}`, method: 'rebuild', params: {} })

  await page.goto(`${server.url}#/projects`)
  assert.ok(await page.locator('bb-action[label="Reload projects"] button').isDisabled())

  await page.goto(`${server.url}#/builders/1`)
  await page.click('button[aria-label="Force build (force force-hello)"]')
  await page.fill('input[name=reason]', 'try again')
  await page.click('button[type=submit]')
  // The answer names one request: its page opens, to follow it to the build.
  await page.waitForURL(/#\/buildrequests\/99\?follow=1$/)
  assert.equal(server.controls.at(-1), {
    path: 'forceschedulers/force-hello', method: 'force',
    params: { builderid: '1', username: '', reason: 'try again', branch: 'main', revision: '' },
  })

  await page.goto(`${server.url}#/buildrequests`)
  await page.click('tr[data-buildrequest="6"] bb-action button')
  await page.locator('tr[data-buildrequest="6"] [role=alert]', { hasText: 'done' }).waitFor()
  assert.equal(server.controls.at(-1), { path: 'buildrequests/6', method: 'cancel', params: {} })
  await close()
})

it('a logged-in user sees their name and a logout button', async ({ h }) => {
  const server = await h!.start({ config: { auth: { name: 'UserPasswordAuth' }, user: { username: 'ada', email: 'ada@example.org' } } })
  const { page, close } = await newPage(h!.browser)
  await page.goto(`${server.url}#/workers`)
  const logout = page.locator('header button', { hasText: 'Logout' })
  await logout.waitFor()
  assert.is(await logout.getAttribute('aria-label'), 'Log out ada')
  await page.locator('header', { hasText: 'ada' }).waitFor()
  await close()
})

test.run()
