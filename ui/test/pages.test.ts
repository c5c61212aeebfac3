import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { haveTool } from '../../test/support/tools.ts'
import { newPage, screenshot } from './browser.ts'
import { createHarness, type Harness } from './harness.ts'

const test = suite<{ h?: Harness }>('ui pages in chromium')
const enabled = haveTool('chromium', 'apt-get install -y chromium')
const it = enabled ? test : test.skip

test.before(async (ctx) => { if (enabled) ctx.h = await createHarness() })
test.after(async (ctx) => { await ctx.h?.close() })

it('projects page lists projects with their default-branch state, in both viewports', async ({ h }) => {
  const server = await h!.start()
  for (const viewport of ['desktop', 'phone'] as const) {
    const { page, errors, close } = await newPage(h!.browser, { viewport, colorScheme: viewport === 'phone' ? 'dark' : 'light' })
    await page.goto(server.url)
    const card = page.locator('article[data-project="1"]')
    await card.locator('.badge', { hasText: 'main: running' }).waitFor()
    assert.match(await card.textContent() ?? '', 'acme/hello')
    await page.locator('article[data-project="2"] .badge', { hasText: 'main: success' }).waitFor()
    await screenshot(page, 'fixture-projects', viewport)
    assert.equal(errors, [])
    await close()
  }
})

it('links navigate and back/forward return to the previous pages', async ({ h }) => {
  const server = await h!.start()
  const { page, close } = await newPage(h!.browser)
  await page.goto(server.url)
  await page.locator('article[data-project="1"] a[href="#/projects/1"]').click()
  await page.locator('tr[data-branch="PR #7"]').waitFor()
  assert.match(await page.locator('tr[data-branch="main"]').textContent() ?? '', 'nix-eval #3')
  await screenshot(page, 'fixture-project')
  await page.locator('nav a', { hasText: 'Workers' }).click()
  await page.locator('tr[data-worker="arm-1"]', { hasText: 'paused' }).waitFor()
  await page.goBack()
  await page.locator('tr[data-branch="PR #7"]').waitFor()
  await page.goBack()
  await page.locator('article[data-project="2"]').waitFor()
  await page.goForward()
  await page.locator('tr[data-branch="main"]').waitFor()
  assert.is(new URL(page.url()).hash, '#/projects/1')
  await close()
})

it('a Buildbot builder/number link opens the build with steps, properties, parent and changes', async ({ h }) => {
  const server = await h!.start()
  const { page, close } = await newPage(h!.browser)
  await page.goto(`${server.url}#/builders/2/builds/1`)
  await page.locator('h1', { hasText: 'acme/hello#checks.x86_64-linux.pkg-00001 #1' }).waitFor()
  await page.locator('[data-testid=parent] a[href="#/builds/3"]', { hasText: /nix-eval #3$/ }).waitFor()
  await page.locator('table[aria-label="properties"] td', { hasText: 'virtual_builder_name' }).waitFor()
  await page.locator('a[aria-label="log stdio of step 0"]').waitFor()
  await page.goto(`${server.url}#/builds/3`)
  const commit = page.locator('[data-testid=change] a[data-testid=commit-link]', { hasText: 'a1b2c3d4e5f6' })
  await commit.waitFor()
  assert.is(await commit.getAttribute('href'), 'https://example.org/acme/hello/commit/a1b2c3d4')
  await page.locator('text=Triggered builds').waitFor()
  await close()
})

it('builders, workers and pending requests pages render the API data', async ({ h }) => {
  const server = await h!.start()
  const { page, close } = await newPage(h!.browser)
  await page.goto(`${server.url}#/builders`)
  await page.locator('a', { hasText: 'reload-github-projects' }).waitFor()
  await page.fill('input[type=search]', 'tools')
  await page.locator('a', { hasText: 'reload-github-projects' }).waitFor({ state: 'detached' })
  await page.goto(`${server.url}#/workers`)
  await page.locator('tr[data-worker="local"]', { hasText: 'connected' }).waitFor()
  // The running builds come from a second request; wait for them rather than read too early.
  await page.locator('tr[data-worker="local"] a', { hasText: '#3' }).waitFor()
  assert.match(await page.locator('tr[data-worker="arm-1"]').textContent() ?? '', 'idle')
  await page.goto(`${server.url}#/buildrequests`)
  await page.locator('tr[data-buildrequest="6"]').waitFor()
  // Request 3 is claimed: it is running, not pending.
  assert.is(await page.locator('tr[data-buildrequest]').count(), 2)
  await screenshot(page, 'fixture-buildrequests', 'desktop')
  await page.goto(`${server.url}#/buildrequests/4`)
  await page.locator('main a[href="#/builds/4"]', { hasText: '#1' }).waitFor()
  await close()
})

it('the log viewer virtualizes 20,000 lines, jumps to a permalinked line and searches', async ({ h }) => {
  const { makeFixtures } = await import('./fixtures.ts')
  const server = await h!.start({ data: makeFixtures({ logLines: 20_000 }) })
  const { page, close } = await newPage(h!.browser)
  await page.goto(`${server.url}#/builds/4/steps/0/logs/stdio?line=15000`)
  await page.locator('[data-testid=line-count]', { hasText: '20000 lines' }).waitFor()
  await page.locator('.line.selected[data-line="15000"]').waitFor()
  // Virtualized: only a window of rows exists in the DOM.
  assert.ok(await page.locator('.line').count() < 500)
  await page.locator('.line[data-line="15000"] a.ln').waitFor()
  assert.is(await page.locator('.line[data-line="15000"] a.ln').getAttribute('href'), '#/builds/4/steps/0/logs/stdio?line=15000')
  await page.fill('input[aria-label="Search in log"]', 'something odd')
  await page.locator('[data-testid=match-count]', { hasText: '1 / 20' }).waitFor()
  await page.click('button[aria-label="Next match"]')
  await page.locator('.line.match[data-line="1008"]').waitFor()
  assert.ok(await page.locator('.line.match[data-line="1008"] .e span').count() >= 1, 'ANSI colour rendered as a span')
  await screenshot(page, 'fixture-log')
  await close()
})

it('keyboard: Tab reaches the navigation and Enter follows a link', async ({ h }) => {
  const server = await h!.start()
  const { page, close } = await newPage(h!.browser)
  await page.goto(server.url)
  await page.locator('article[data-project="1"]').waitFor()
  const focused = () => page.evaluate(() => {
    let el: Element | null = document.activeElement
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement
    return el?.textContent?.trim() ?? ''
  })
  await page.keyboard.press('Tab')
  assert.is(await focused(), 'Fixture CI')
  await page.keyboard.press('Tab')
  await page.keyboard.press('Tab')
  assert.is(await focused(), 'Builders')
  await page.keyboard.press('Enter')
  await page.locator('h1', { hasText: 'Builders' }).waitFor()
  await close()
})

test.run()
