import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../../test/support/tools.ts'
import { makeFlakeRepo } from '../../test/fixtures/nix/make-flake.ts'
import { defineMaster, localWorker, builder, steps, schedulers, createMaster, type Master } from '../../core/index.ts'
import { resolveConfig } from '../../core/config/resolve.ts'
import { nix } from '../../plugins/nix/index.ts'
import { newPage, screenshot } from './browser.ts'
import { createHarness, type Harness } from './harness.ts'
import { freePort } from './free-port.ts'
import { shoot, getJson, until } from './shoot.ts'

/**
 * Actions that lead somewhere, shareable views, links out, workers and changes, against one real
 * master: a flake evaluated twice (the second time its checks are already built), a long build to
 * stop, a quick one to force, changes from a GitHub and a Gitea repository, a spare worker.
 */
type Ids = { project: number; quick: number; soak: number; nixBuild: number; evals: [number, number]; github: number; gitea: number; okBuild: number }
const test = suite<{ h?: Harness; master?: Master; basedir?: string; url?: string; ids?: Ids; sha?: string }>('actions, shareable views, links out, workers and changes')
const enabled = haveTool('chromium', 'apt-get install -y chromium') && haveTool('nix', 'apt-get install -y nix-bin')
const it = enabled ? test : test.skip
const SHA = 'a'.repeat(7) + 'b'.repeat(33)
const GITEA_SHA = 'c'.repeat(40)

test.before(async (ctx) => {
  if (!enabled) return
  try { await setUp(ctx) } catch (err) { console.error('setting up the master failed:', err); throw err }
})

async function setUp(ctx: { h?: Harness; master?: Master; basedir?: string; url?: string; ids?: Ids }): Promise<void> {
  ctx.h = await createHarness()
  ctx.basedir = await mkdtemp(join(tmpdir(), 'bb-ui-actions-'))
  const repo = join(ctx.basedir, 'repo')
  makeFlakeRepo(repo, { checks: { ok: {}, 'unit-2': {}, 'unit-10': {} } })
  const port = await freePort()
  const config = await resolveConfig(defineMaster({
    title: 'Actions', basedir: ctx.basedir, db: `sqlite:${join(ctx.basedir, 'state.sqlite')}`, logLevel: 'error',
    www: { host: '127.0.0.1', port }, buildbotURL: `http://127.0.0.1:${port}/`,
    workers: [localWorker({ name: 'local', maxBuilds: 6 }), localWorker({ name: 'spare' })],
    builders: [
      builder({ name: 'soak', project: 'tools', workers: ['local'], steps: [steps.shell({ name: 'soak', command: ['sleep', '300'] })] }),
      builder({ name: 'quick', project: 'tools', workers: ['local'], steps: [steps.shell({ name: 'quick', command: ['sh', '-c', 'echo quick'] })] }),
    ],
    schedulers: [
      schedulers.force({ name: 'force-soak', builderNames: ['soak'] }), schedulers.force({ name: 'force-quick', builderNames: ['quick'] }),
      schedulers.anyBranch({ name: 'changes', builderNames: ['quick'] }),
    ],
    plugins: [nix({ projects: [{ name: 'acme/demo', url: repo, defaultBranch: 'main' }], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 1 })],
  }), join(ctx.basedir, 'master.config.ts'))
  ctx.url = `http://127.0.0.1:${port}/`
  ctx.master = createMaster({ config, uiDir: ctx.h.dist })
  await ctx.master.start()
  const api = (path: string) => getJson(`${ctx.url}api/v2/${path}`)
  const builderId = (name: string) => until(async () => ((await api(`builders?name=${encodeURIComponent(name)}`)).builders[0] as { builderid: number } | undefined)?.builderid)
  const control = ctx.master.control
  const evalForce = control.forceSchedulers().find((s) => s.name.endsWith('-force'))!.name
  const evalBuilder = await builderId('acme/demo/nix-eval')
  const evalDone = (n: number) => until(async () => {
    const b = (await api(`builders/${evalBuilder}/builds?order=number&complete=true`)).builds as { buildid: number }[]
    return b.length >= n ? b[n - 1]!.buildid : undefined
  })
  await control.force(evalForce, { reason: 'first' }, 'tester')
  const first = await evalDone(1)
  // Every check of the first evaluation built: the second finds them in the store.
  const nixBuild = await builderId('acme/demo/nix-build')
  await until(async () => ((await api(`builders/${nixBuild}/builds?complete=true`)).builds.length >= 3 ? true : undefined))
  await control.force(evalForce, { reason: 'second' }, 'tester')
  const second = await evalDone(2)
  const changes = ctx.master.data.changes
  await changes.addChange({ author: 'Jane <jane@example.org>', comments: 'Fix the parser\n\nlong text', branch: 'feature/x', revision: SHA,
    repository: 'https://github.com/acme/tools.git', project: 'tools', files: ['a.c'] })
  await changes.addChange({ author: 'Joe <joe@example.org>', comments: 'Speed up the lexer', branch: 'main', revision: GITEA_SHA,
    repository: 'https://git.example.org/acme/tools.git', revlink: `https://git.example.org/acme/tools/commit/${GITEA_SHA}`, project: 'tools', files: ['b.c'] })
  const quick = await builderId('quick')
  const byRevision = async (rev: string) => until(async () => {
    const b = (await api(`builders/${quick}/builds?complete=true&property=revision`)).builds as { buildid: number; properties: { revision?: [string] } }[]
    return b.find((x) => x.properties.revision?.[0] === rev)?.buildid
  })
  const okBuild = await until(async () => {
    const b = (await api(`builders/${nixBuild}/builds?property=attr`)).builds as { buildid: number; properties: { attr?: [string] } }[]
    return b.find((x) => x.properties.attr?.[0] === 'x86_64-linux.ok')?.buildid
  })
  ctx.ids = {
    project: await until(async () => ((await api('projects')).projects as { projectid: number; name: string }[]).find((p) => p.name === 'acme/demo')?.projectid),
    quick, soak: await builderId('soak'), nixBuild, evals: [first, second], github: await byRevision(SHA), gitea: await byRevision(GITEA_SHA), okBuild,
  }
}

test.after(async (ctx) => {
  await ctx.master?.stop()
  await ctx.h?.close()
  if (ctx.basedir) await rm(ctx.basedir, { recursive: true, force: true })
})

it('force and rebuild open the new build; stop asks for a reason, confirms, and the reason reaches the build', async ({ h, url, ids }) => {
  await shoot(h!, 'force-opens-build', `${url}#/builders/${ids!.quick}`, async (page) => {
    await page.locator('bb-force-form button.primary').first().click()
    await page.click('button[type=submit]')
    await page.waitForURL(/#\/builds\/\d+$/)
    const forced = await page.locator('h1', { hasText: /^quick #\d+$/ }).innerText()
    await page.locator('main p .badge.success').waitFor()
    await page.locator('bb-action button', { hasText: 'Rebuild' }).click()
    await page.locator('h1', { hasText: `quick #${Number(forced.split('#')[1]) + 1}` }).waitFor()
  })
  await shoot(h!, 'stop-reason', `${url}#/builders/${ids!.soak}`, async (page, viewport) => {
    await page.locator('bb-force-form button.primary').first().click()
    await page.click('button[type=submit]')
    await page.locator('h1', { hasText: /^soak #\d+$/ }).waitFor()
    await page.locator('bb-action button', { hasText: 'Stop' }).click()
    const dialog = page.locator('bb-action dialog[open]')
    await dialog.locator('input[name=reason]').fill('wrong branch')
    await screenshot(page, 'stop-dialog', viewport)
    await dialog.locator('button[value=confirm]').click()
    await page.locator('main p', { hasText: 'cancelled: wrong branch' }).waitFor()
  })
})

it("the nix-build builder lists checks by attribute with commit and branch", async ({ h, url, ids }) => {
  const props = (await getJson(`${url}api/v2/builds/${ids!.evals[0]}/properties`)).properties[0] as Record<string, [string]>
  const rev = props.got_revision![0]
  await shoot(h!, 'nix-build-builder', `${url}#/builders/${ids!.nixBuild}`, async (page) => {
    for (const attr of ['ok', 'unit-2', 'unit-10']) {
      const row = page.locator(`[data-testid=attribute-builds] tr[data-attr="x86_64-linux.${attr}"]`)
      await row.locator('a', { hasText: `x86_64-linux.${attr} #` }).waitFor()
      await row.locator('td', { hasText: rev.slice(0, 12) }).locator('span', { hasText: 'main' }).waitFor()
    }
  })
})

it('the matrix view is in the URL; the timeline has a time axis and its bars open their builds; names sort naturally', async ({ h, url, ids }) => {
  await shoot(h!, 'matrix-url-state', `${url}#/builds/${ids!.evals[0]}?filter=success&q=unit`, async (page, viewport) => {
    await page.locator('button[data-filter=success][aria-pressed=true]').waitFor()
    assert.is(await page.locator('input[aria-label="Search attributes"]').inputValue(), 'unit')
    await page.locator('.job[data-attr="x86_64-linux.unit-10"]').waitFor()
    const shown = await page.locator('.job[data-attr]').evaluateAll((els) => els.map((e) => e.getAttribute('data-attr')))
    assert.equal(shown, ['x86_64-linux.unit-2', 'x86_64-linux.unit-10'], 'searched, filtered, natural order')
    // The timeline is drawn in the frame after the list: wait for its second tick.
    await page.locator('[data-testid=timeline-axis] span').nth(1).waitFor()
    assert.ok(await page.locator('[data-testid=timeline-axis] span').count() >= 2, 'the timeline has ticks')
    if (viewport === 'phone') return
    await page.click('button[data-filter=all]')
    await page.fill('input[aria-label="Search attributes"]', 'ok')
    await page.waitForURL((u) => u.hash === `#/builds/${ids!.evals[0]}?q=ok`)
    await page.reload()
    await page.locator('.job[data-attr="x86_64-linux.ok"]').waitFor()
    assert.is(await page.locator('input[aria-label="Search attributes"]').inputValue(), 'ok', 'a reload keeps the search')
    assert.is(await page.locator('.job[data-attr]').count(), 1)
    // A bar of the timeline opens its attribute's build.
    const canvas = page.locator('bb-matrix-timeline canvas')
    await canvas.click({ position: { x: 5, y: 2 } })
    await page.waitForURL(/#\/builds\/\d+$/)
    await page.locator('[data-testid=nix-build-command]').waitFor()
    assert.match(await page.locator('h1').innerText(), /checks\.x86_64-linux\.(ok|unit-2|unit-10) #\d+$/)
    await screenshot(page, 'timeline-bar-opens-build', viewport)
    // Back to the matrix as it was left: searched for `ok`.
    await page.goBack()
    await page.locator('.job[data-attr="x86_64-linux.ok"]').waitFor()
    assert.is(await page.locator('input[aria-label="Search attributes"]').inputValue(), 'ok')
  })
})

it('links out: commits and branches on GitHub and Gitea, copyable outputs and nix build command, already built checks', async ({ h, url, ids }) => {
  await shoot(h!, 'forge-links', `${url}#/builds/${ids!.github}`, async (page) => {
    await page.locator(`a[data-testid=commit-link][href="https://github.com/acme/tools/commit/${SHA}"]`).waitFor()
    await page.locator('a[data-testid=branch-link][href="https://github.com/acme/tools/tree/feature/x"]', { hasText: 'feature/x' }).waitFor()
  })
  const { page, close } = await newPage(h!.browser)
  try {
    await page.goto(`${url}#/builds/${ids!.gitea}`)
    await page.locator(`a[data-testid=commit-link][href="https://git.example.org/acme/tools/commit/${GITEA_SHA}"]`).waitFor()
    await page.locator('a[data-testid=branch-link][href="https://git.example.org/acme/tools/src/branch/main"]').waitFor()
  } finally { await close() }
  const props = (await getJson(`${url}api/v2/builds/${ids!.okBuild}/properties`)).properties[0] as Record<string, [string]>
  await shoot(h!, 'check-outputs', `${url}#/builds/${ids!.okBuild}`, async (page) => {
    const command = page.locator('[data-testid=nix-build-command]')
    assert.is(await command.innerText(), `nix build '${props.drv_path![0]}^*'`)
    await page.locator('[data-testid=output] code', { hasText: props.out_path![0] }).waitFor()
    const copy = page.locator('button[aria-label="Copy the nix build command"]')
    assert.is(await copy.getAttribute('data-copy'), `nix build '${props.drv_path![0]}^*'`)
    await copy.click()
    await page.locator('button[aria-label="Copy the nix build command"]', { hasText: /Copied|Selected/ }).waitFor()
  })
  await shoot(h!, 'already-built', `${url}#/builds/${ids!.evals[1]}`, async (page) => {
    const row = page.locator('.job[data-attr="x86_64-linux.ok"]')
    await row.locator('.badge', { hasText: 'skipped' }).waitFor()
    await row.locator(`a[data-testid=built-by][href="#/builds/${ids!.okBuild}"]`).waitFor()
  })
})

it('workers: pause with a reason, unpause, stop gracefully; the changes list; times relative with the absolute time as tooltip', async ({ h, url }) => {
  await shoot(h!, 'workers-actions', `${url}#/workers`, async (page, viewport) => {
    const spare = page.locator('tr[data-worker="spare"]')
    // The phone run sees what the desktop run left: a worker stopped gracefully.
    if (viewport === 'phone') return spare.locator('.badge', { hasText: 'offline' }).waitFor()
    await spare.locator('.badge', { hasText: 'connected' }).waitFor()
    await spare.locator('bb-action button', { hasText: 'Pause' }).click()
    const dialog = spare.locator('dialog[open]')
    await dialog.locator('input[name=reason]').fill('disk check')
    await dialog.locator('button[value=confirm]').click()
    await spare.locator('[data-testid=worker-state]', { hasText: 'paused disk check' }).waitFor()
    await spare.locator('bb-action button', { hasText: 'Unpause' }).click()
    await spare.locator('[data-testid=worker-state]', { hasText: 'active' }).waitFor()
    await spare.locator('bb-action button', { hasText: 'Stop gracefully' }).click()
    await spare.locator('dialog[open] button[value=confirm]').click()
    await spare.locator('.badge', { hasText: 'offline' }).waitFor()
  })
  const workers = (await getJson(`${url}api/v2/workers?name=spare`)).workers[0] as { paused: boolean; graceful: boolean; connected_to: unknown[] }
  assert.equal([workers.paused, workers.graceful, workers.connected_to.length], [false, true, 0], 'the master did what the page said')
  await shoot(h!, 'changes', `${url}#/changes`, async (page) => {
    await page.locator('tr[data-change]', { hasText: 'Fix the parser' }).locator(`a[href="https://github.com/acme/tools/commit/${SHA}"]`).waitFor()
    await page.locator('tr[data-change]', { hasText: 'Speed up the lexer' }).locator('a[href="https://git.example.org/acme/tools/src/branch/main"]').waitFor()
    const time = page.locator('tr[data-change] time').first()
    assert.match(await time.innerText(), /ago$/)
    assert.ok(Date.parse((await time.getAttribute('datetime'))!) > 0)
    assert.ok((await time.getAttribute('title'))!.length > 0, 'the absolute time is the tooltip')
  })
})

test.run()
