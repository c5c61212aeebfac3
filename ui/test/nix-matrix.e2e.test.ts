import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../../test/support/tools.ts'
import { makeFlakeRepo } from '../../test/fixtures/nix/make-flake.ts'
import { defineMaster, localWorker, createMaster, type Master } from '../../core/index.ts'
import { resolveConfig } from '../../core/config/resolve.ts'
import { nix } from '../../plugins/nix/index.ts'
import { newPage, screenshot } from './browser.ts'
import { createHarness, type Harness } from './harness.ts'
import { freePort } from './free-port.ts'

const test = suite<{ h?: Harness; master?: Master; basedir?: string; url?: string }>('build matrix of a real flake evaluation')
const enabled = haveTool('chromium', 'apt-get install -y chromium') && haveTool('nix', 'apt-get install -y nix-bin')
const it = enabled ? test : test.skip

test.before(async (ctx) => {
  if (!enabled) return
  ctx.h = await createHarness()
  ctx.basedir = await mkdtemp(join(tmpdir(), 'bb-ui-nix-'))
  const repo = join(ctx.basedir, 'repo')
  makeFlakeRepo(repo, {
    checks: {
      ok: {}, dep: { deps: ['ok'] }, broken: { script: 'echo about to fail; exit 3' }, needsBroken: { deps: ['broken'] },
      bad: { throws: 'this check is broken' }, arm: { system: 'aarch64-linux' },
    },
  })
  // buildbotURL must name the real port: the master checks a POST's Origin against it.
  const port = await freePort()
  const config = await resolveConfig(defineMaster({
    title: 'Nix UI e2e', basedir: ctx.basedir, db: `sqlite:${join(ctx.basedir, 'state.sqlite')}`, logLevel: 'error',
    www: { host: '127.0.0.1', port }, buildbotURL: `http://127.0.0.1:${port}/`,
    workers: [localWorker({ name: 'local', maxBuilds: 4 })],
    plugins: [nix({ projects: [{ name: 'acme/demo', url: repo, defaultBranch: 'main' }], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 2 })],
  }), join(ctx.basedir, 'master.config.ts'))
  ctx.master = createMaster({ config, uiDir: ctx.h.dist })
  await ctx.master.start()
  ctx.url = `http://127.0.0.1:${port}/`
})

test.after(async (ctx) => {
  await ctx.master?.stop()
  await ctx.h?.close()
  if (ctx.basedir) await rm(ctx.basedir, { recursive: true, force: true })
})

it('evaluate from the UI and watch the matrix fill in, failures first, with reasons and child builds', async ({ h, url }) => {
  const { page, errors, close } = await newPage(h!.browser)
  await page.goto(`${url}#/builders`)
  await page.locator('a', { hasText: 'acme/demo/nix-eval' }).click()
  await page.locator('bb-force-form button.primary', { hasText: 'Evaluate' }).click()
  await page.click('button[type=submit]')
  // The force opens the evaluation's build as soon as it starts.
  await page.locator('h1', { hasText: 'acme/demo/nix-eval #1' }).waitFor({ timeout: 90_000 })
  await page.locator('section[aria-label="build matrix"]').waitFor()
  await page.locator('[data-testid=matrix-counts]', { hasText: '6 attributes' }).waitFor({ timeout: 90_000 })
  // Live: the page was open before the children finished; the last states arrive over /ws.
  await page.locator('[data-testid=matrix-counts]', { hasText: '0 running or waiting' }).waitFor({ timeout: 90_000 })
  await page.locator('.badge.failure').first().waitFor({ timeout: 90_000 })
  const order = await page.locator('.job[data-attr]').evaluateAll((els) => els.map((e) => e.getAttribute('data-attr')))
  assert.equal(order.slice(0, 3).sort(), ['x86_64-linux.bad', 'x86_64-linux.broken', 'x86_64-linux.needsBroken'])
  await page.locator('.job[data-attr="x86_64-linux.bad"]', { hasText: 'this check is broken' }).waitFor()
  await page.locator('.job[data-attr="aarch64-linux.arm"] .badge', { hasText: 'unsupported-system' }).waitFor()
  await page.locator('[data-testid=timeline-stats]', { hasText: 'Slowest' }).waitFor()
  await screenshot(page, 'nix-matrix')
  await page.locator('.job[data-attr="x86_64-linux.dep"] a').click()
  await page.locator('table[aria-label=properties] td', { hasText: 'virtual_builder_name' }).waitFor()
  await page.goto(`${url}#/projects`)
  await page.locator('article', { hasText: 'acme/demo' }).locator('.badge', { hasText: 'main: failure' }).waitFor()
  await screenshot(page, 'nix-projects')
  assert.equal(errors, [])
  await close()
})

test.run()
