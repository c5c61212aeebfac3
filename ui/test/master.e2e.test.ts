import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../../test/support/tools.ts'
import { defineMaster, localWorker, builder, steps, schedulers, createMaster, type Master } from '../../core/index.ts'
import { resolveConfig } from '../../core/config/resolve.ts'
import { newPage, screenshot } from './browser.ts'
import { createHarness, type Harness } from './harness.ts'
import { freePort } from './free-port.ts'

const test = suite<{ h?: Harness; master?: Master; basedir?: string; url?: string; config?: Awaited<ReturnType<typeof resolveConfig>> }>('ui against a real master')
const enabled = haveTool('chromium', 'apt-get install -y chromium')
const it = enabled ? test : test.skip

const SCRIPT = 'for i in $(seq 1 3000); do echo "line $i"; done; printf "\\033[31mred alert\\033[0m\\n"; echo oops >&2'

test.before(async (ctx) => {
  if (!enabled) return
  ctx.h = await createHarness()
  ctx.basedir = await mkdtemp(join(tmpdir(), 'bb-ui-master-'))
  // A fixed port, because the master checks a POST's Origin against buildbotURL, which must
  // therefore name the real port (with port 0 it would say :0).
  const port = await freePort()
  const config = await resolveConfig(defineMaster({
    title: 'UI e2e', basedir: ctx.basedir, db: `sqlite:${join(ctx.basedir, 'state.sqlite')}`, logLevel: 'error',
    www: { host: '127.0.0.1', port }, buildbotURL: `http://127.0.0.1:${port}/`,
    workers: [localWorker({ name: 'local' })],
    builders: [builder({ name: 'hello', workers: ['local'], steps: [steps.shell({ name: 'count', command: ['sh', '-c', SCRIPT] })] })],
    schedulers: [schedulers.force({ name: 'force-hello', builderNames: ['hello'] })],
  }), join(ctx.basedir, 'master.config.ts'))
  ctx.config = config
  ctx.master = createMaster({ config, uiDir: ctx.h.dist })
  await ctx.master.start()
  ctx.url = `http://127.0.0.1:${ctx.master.ports.www}/`
})

test.after(async (ctx) => {
  await ctx.master?.stop()
  await ctx.h?.close()
  if (ctx.basedir) await rm(ctx.basedir, { recursive: true, force: true })
})

it('force a build from the builder page, watch it finish live, read its log', async ({ h, url }) => {
  const { page, errors, close } = await newPage(h!.browser)
  await page.goto(url!)
  await page.locator('h1', { hasText: 'Projects' }).waitFor()
  await page.locator('nav a', { hasText: 'Builders' }).click()
  await page.locator('a', { hasText: 'hello' }).click()
  await page.locator('h1', { hasText: 'hello' }).waitFor()
  await page.locator('bb-force-form button.primary').first().click()
  await page.fill('input[name=reason]', 'from the UI')
  await page.click('button[type=submit]')
  // The force opens the new build, which completes through /ws events, without a reload.
  await page.locator('h1', { hasText: 'hello #1' }).waitFor({ timeout: 60_000 })
  await page.locator('main p .badge.success').waitFor({ timeout: 60_000 })
  await page.locator('table[aria-label=steps] td', { hasText: 'count' }).waitFor()
  await page.locator('table[aria-label=properties] td', { hasText: 'reason' }).waitFor()
  await screenshot(page, 'master-build')
  await page.locator('bb-step-logs a', { hasText: 'stdio' }).last().click()
  await page.locator('[data-testid=line-count]', { hasText: /^30\d\d lines$/ }).waitFor()
  const count = Number((await page.locator('[data-testid=line-count]').textContent())!.split(' ')[0])
  await page.check('input[aria-label="Follow the log"]')
  await page.locator('.line').last().waitFor()
  await page.fill('input[aria-label="Search in log"]', 'red alert')
  // The header line echoes the command, so the text is found twice; the second is the output.
  await page.locator('[data-testid=match-count]', { hasText: '1 / 2' }).waitFor()
  await page.click('button[aria-label="Next match"]')
  await page.locator('.line.match .o span', { hasText: 'red alert' }).waitFor()
  await screenshot(page, 'master-log')
  // Buildbot's own link form of the same log, with a line permalink.
  await page.goto(`${url}#/builders/1/builds/1/steps/0/logs/stdio?line=3003`)
  await page.locator('.line.selected[data-line="3003"]', { hasText: 'red alert' }).waitFor()
  assert.ok(count > 3000)
  assert.equal(errors, [])
  await close()
})

it('workers and pending pages read the real API', async ({ h, url }) => {
  const { page, close } = await newPage(h!.browser)
  await page.goto(`${url}#/workers`)
  await page.locator('tr[data-worker="local"]').waitFor()
  await page.goto(`${url}#/buildrequests`)
  await page.locator('text=Nothing is waiting.').waitFor()
  await close()
})

it('after a master restart the page reconnects, subscribes again and shows new builds live', async (ctx) => {
  const { page, close } = await newPage(ctx.h!.browser)
  await page.goto(`${ctx.url}#/builders/1`)
  await page.locator('table[aria-label=builds] a', { hasText: '#1' }).waitFor()
  await ctx.master!.stop()
  await page.locator('[role=status]', { hasText: 'Disconnected' }).waitFor()
  ctx.master = createMaster({ config: ctx.config!, uiDir: ctx.h!.dist })
  await ctx.master.start()
  await page.locator('[role=status]', { hasText: 'Disconnected' }).waitFor({ state: 'detached' })
  await ctx.master.control.force('force-hello', { reason: 'after restart' }, 'tester')
  await page.locator('table[aria-label=builds] tr', { hasText: '#2' }).locator('.badge.success').waitFor({ timeout: 60_000 })
  await close()
})

test.run()
