import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../../test/support/tools.ts'
import { makeFlakeRepo } from '../../test/fixtures/nix/make-flake.ts'
import { defineMaster, localWorker, worker, builder, steps, schedulers, createMaster, type Master } from '../../core/index.ts'
import { resolveConfig } from '../../core/config/resolve.ts'
import { nix } from '../../plugins/nix/index.ts'
import { shoot, getJson, until } from './shoot.ts'
import { createHarness, type Harness } from './harness.ts'
import { freePort } from './free-port.ts'

/**
 * Results the UI must get right, against one real master that is restarted once: an evaluation
 * with three failed checks and a stopped one, builds interrupted by the restart and retried, a
 * running build, a live log, a pending request, a long builder name at phone width.
 */
type Ctx = {
  h?: Harness; master?: Master; config?: Awaited<ReturnType<typeof resolveConfig>>; basedir?: string; url?: string
  ids?: { nextEval: number; evalBuild: number; retriedEval: number; soakRetried: number; soakRunning: number; chatty: number; failedChild: number; longBuild: number; brid: number; project: number }
}
const test = suite<Ctx>('results: failures, retries, reload, live durations, logs, narrow screens, names')
const enabled = haveTool('chromium', 'apt-get install -y chromium') && haveTool('nix', 'apt-get install -y nix-bin')
const it = enabled ? test : test.skip
const LONG = 'an-extremely-long-builder-name-to-check-build-titles-at-phone-width'
const FAIL = (n: number) => `i=0; while [ $i -lt 40 ]; do echo "building part $i of check ${n}"; i=$((i+1)); done; echo "error: check ${n} failed its assertion" >&2; exit 1`

test.before(async (ctx) => {
  if (!enabled) return
  // uvu does not print a failing hook's error: say it here.
  try { await setUp(ctx) } catch (err) { console.error('setting up the master failed:', err); throw err }
})

async function setUp(ctx: Ctx): Promise<void> {
  ctx.h = await createHarness()
  ctx.basedir = await mkdtemp(join(tmpdir(), 'bb-ui-results-'))
  const repo = join(ctx.basedir, 'repo')
  makeFlakeRepo(repo, {
    checks: {
      'unit-1': { script: FAIL(1) }, 'unit-2': { script: FAIL(2) }, 'unit-10': { script: FAIL(10) },
      'unit-3': {},
      // After unit-3, so it never shares a nix process with the failing checks.
      slow: { script: '/bin/sleep 300; echo > $out', deps: ['unit-3'] },
    },
  })
  const port = await freePort()
  ctx.config = await resolveConfig(defineMaster({
    title: 'Results', basedir: ctx.basedir, db: `sqlite:${join(ctx.basedir, 'state.sqlite')}`, logLevel: 'error',
    www: { host: '127.0.0.1', port }, buildbotURL: `http://127.0.0.1:${port}/`,
    protocols: { msgpack: { port: 0, host: '127.0.0.1' } },
    workers: [localWorker({ name: 'local', maxBuilds: 8 }), worker({ name: 'offline', password: 'unused' })],
    builders: [
      builder({ name: 'soak', project: 'tools', workers: ['local'], steps: [steps.shell({ name: 'soak', command: ['sleep', '300'] })] }),
      builder({ name: 'chatty', project: 'tools', workers: ['local'], steps: [steps.shell({ name: 'talk', command: ['sh', '-c', 'i=0; while [ $i -lt 100000 ]; do echo "line $i"; i=$((i+1)); sleep 0.05; done'] })] }),
      builder({ name: LONG, project: 'tools', workers: ['local'], steps: [steps.shell({ name: 'a-step-with-a-long-name-that-should-wrap', command: ['sh', '-c', 'echo done'] })] }),
      builder({ name: 'arm-only', project: 'tools', workers: ['offline'], steps: [steps.shell({ name: 'noop', command: ['true'] })] }),
    ],
    schedulers: ['soak', 'chatty', LONG, 'arm-only'].map((b, i) => schedulers.force({ name: `force-${i}`, builderNames: [b] })),
    plugins: [nix({ projects: [{ name: 'acme/demo', url: repo, defaultBranch: 'main' }], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 1,
      // One nix process per check: a shared one answers failures only when its slowest build ends.
      shareNixProcesses: false })],
  }), join(ctx.basedir, 'master.config.ts'))
  ctx.url = `http://127.0.0.1:${port}/`
  ctx.master = createMaster({ config: ctx.config, uiDir: ctx.h.dist })
  await ctx.master.start()
  const api = (path: string) => getJson(`${ctx.url}api/v2/${path}`)
  const builderId = async (name: string) => until(async () => {
    const r = await api(`builders?name=${encodeURIComponent(name)}`)
    return (r.builders[0] as { builderid: number } | undefined)?.builderid
  })
  const builds = async (name: string, q = '') => (await api(`builders/${await builderId(name)}/builds?order=number${q}`)).builds as { buildid: number; number: number; complete: boolean; results: number | null; state_string: string }[]

  let control = ctx.master.control
  const evalForce = control.forceSchedulers().find((s) => s.name.endsWith('-force'))!.name
  await control.force(evalForce, { reason: 'results' }, 'tester')
  for (const i of [0, 1, 3]) await control.force(`force-${i}`, { reason: 'results' }, 'tester')
  // Three checks fail and `slow` runs: then the master restarts under the evaluation.
  await until(async () => {
    const b = await builds('acme/demo/nix-build')
    return b.filter((x) => x.complete && x.results === 2).length >= 3 && b.some((x) => !x.complete) ? true : undefined
  })
  await until(async () => ((await builds('soak', '&complete=false')).length ? true : undefined))
  await ctx.master.stop()
  ctx.master = createMaster({ config: ctx.config, uiDir: ctx.h.dist })
  await ctx.master.start()
  control = ctx.master.control
  await control.force('force-2', { reason: 'results' }, 'tester')
  // The evaluation runs again; its `slow` check is stopped by hand (so is any rerun of the old one).
  const evals = await until(async () => { const b = await builds('acme/demo/nix-eval'); return b.length >= 2 ? b : undefined })
  const retriedEval = evals[0]!.buildid
  const evalBuild = evals[1]!.buildid
  await until(async () => {
    const running = await builds('acme/demo/nix-build', '&complete=false&property=attr') as unknown as { buildid: number; properties: { attr?: [string, string] } }[]
    for (const b of running) if (b.properties.attr?.[0].endsWith('.slow')) await control.stopBuild(b.buildid, '')
    const e = (await api(`builds/${evalBuild}`)).builds[0] as { complete: boolean }
    return e.complete ? true : undefined
  })
  // The next evaluation: unit-1 fixed, unit-3 newly failing, slow removed, a check added.
  makeFlakeRepo(repo, { checks: { 'unit-1': {}, 'unit-2': { script: FAIL(2) }, 'unit-10': { script: FAIL(10) }, 'unit-3': { script: FAIL(3) }, added: {} } })
  await control.force(evalForce, { reason: 'results, next' }, 'tester')
  const nextEval = await until(async () => { const b = await builds('acme/demo/nix-eval'); return b.length >= 3 && b[2]!.complete ? b[2]!.buildid : undefined })
  const soak = await until(async () => { const b = await builds('soak'); return b.length >= 2 && !b[1]!.complete ? b : undefined })
  const failedChild = (await builds('acme/demo/nix-build')).find((b) => b.results === 2)!.buildid
  ctx.ids = {
    nextEval, evalBuild, retriedEval, soakRetried: soak[0]!.buildid, soakRunning: soak[1]!.buildid, failedChild,
    chatty: await until(async () => (await builds('chatty', '&complete=false'))[0]?.buildid),
    longBuild: await until(async () => (await builds(LONG, '&complete=true'))[0]?.buildid),
    brid: await until(async () => ((await api(`buildrequests?claimed=false&builderid=${await builderId('arm-only')}`)).buildrequests[0] as { buildrequestid: number } | undefined)?.buildrequestid),
    project: await until(async () => ((await api('projects')).projects as { projectid: number; name: string }[]).find((p) => p.name === 'acme/demo')?.projectid),
  }
}

test.after(async (ctx) => {
  await ctx.master?.stop()
  await ctx.h?.close()
  if (ctx.basedir) await rm(ctx.basedir, { recursive: true, force: true })
})

it('three failed checks and a stopped one: the evaluation failed, and its text names the counts', async ({ h, url, ids }) => {
  const b = (await getJson(`${url}api/v2/builds/${ids!.evalBuild}`)).builds[0] as { results: number; state_string: string }
  assert.is(b.results, 2, `failures win over a stopped child (${b.state_string})`)
  assert.match(b.state_string, /^build failed \(3 failed, 1 cancelled, 1 (success|skipped)\)$/)
  await shoot(h!, 'eval-failed-and-stopped', `${url}#/builds/${ids!.evalBuild}`, async (page) => {
    await page.locator('main p .badge.failure').first().waitFor()
    await page.locator('main p', { hasText: '3 failed, 1 cancelled' }).first().waitFor()
    assert.not.match(await page.locator('main').innerText(), /cancelled: null/)
  })
})

it('builds interrupted by a restart say so and link to the build that ran them again', async ({ h, url, ids }) => {
  await shoot(h!, 'build-retried', `${url}#/builds/${ids!.soakRetried}`, async (page) => {
    await page.locator('[data-testid=attempts]', { hasText: 'Retried as soak #2' }).waitFor()
    await page.locator(`[data-testid=attempts] a[href="#/builds/${ids!.soakRunning}"]`).waitFor()
  })
  await shoot(h!, 'eval-retried', `${url}#/builds/${ids!.retriedEval}`, async (page) => {
    await page.locator('[data-testid=attempts]', { hasText: 'Retried as acme/demo/nix-eval #2' }).waitFor()
    await page.locator('[data-testid=matrix-counts]', { hasText: '0 running or waiting' }).waitFor()
    const text = await page.locator('table[aria-label=steps]').innerText()
    assert.not.match(text, /\d+ building|\d+ pending/, 'no progress text survives the restart')
  })
})

it('"Reload projects" reloads the project registry', async ({ h, url }) => {
  await shoot(h!, 'projects-reload', `${url}#/projects`, async (page) => {
    await page.locator('article', { hasText: 'acme/demo' }).waitFor()
    await page.locator('bb-action button', { hasText: 'Reload projects' }).click()
    await page.locator('bb-action [role=alert]', { hasText: 'Projects reloaded' }).waitFor()
  })
})

it("a running build's duration ticks with no other update", async ({ h, url, ids }) => {
  await shoot(h!, 'build-duration-ticks', `${url}#/builds/${ids!.soakRunning}`, async (page) => {
    const duration = page.locator('[data-testid=duration]')
    await duration.waitFor()
    const first = await duration.innerText()
    await page.waitForFunction((t) => document.querySelector('bb-app')!.shadowRoot!.querySelector('bb-build-page')!.shadowRoot!
      .querySelector('[data-testid=duration]')!.textContent !== t, first)
  })
})

it('the project page: revision of forced evaluations, counts in the matrix column, no "last build" of per-attribute builders', async ({ h, url, ids }) => {
  const props = (await getJson(`${url}api/v2/builds/${ids!.nextEval}/properties`)).properties[0] as Record<string, [string, string]>
  const rev = props.got_revision![0]
  await shoot(h!, 'project-nix', `${url}#/projects/${ids!.project}`, async (page, viewport) => {
    const row = page.locator('tr[data-branch="main"]')
    await row.waitFor()
    if (viewport === 'desktop') {
      await row.locator('[data-testid=revision]', { hasText: rev.slice(0, 12) }).waitFor()
      await row.locator('[data-testid=matrix]', { hasText: '3 failed, 2 success' }).waitFor()
    }
    await page.locator('tr[data-builder="acme/demo/nix-build"]', { hasText: 'one build per attribute' }).waitFor()
  })
})

it('a live log: Follow is on, scrolling up stops it; search marks every match', async ({ h, url, ids }) => {
  await shoot(h!, 'log-follow-search', `${url}#/builds/${ids!.chatty}/steps/0/logs/stdio`, async (page) => {
    const follow = page.locator('input[aria-label="Follow the log"]')
    await page.locator('.line').first().waitFor()
    assert.ok(await follow.isChecked(), 'Follow is on for a running log')
    const log = page.locator('lit-virtualizer[role=log]')
    await log.hover()
    await page.mouse.wheel(0, -400)
    await page.waitForFunction(() => !(document.querySelector('bb-app')!.shadowRoot!.querySelector('bb-log-page')!.shadowRoot!
      .querySelector('bb-log-viewer')!.shadowRoot!.querySelector('input[aria-label="Follow the log"]') as HTMLInputElement).checked)
    const top = await log.evaluate((e) => e.scrollTop)
    const lines = Number((await page.locator('[data-testid=line-count]').innerText()).split(' ')[0])
    // Lines arrive in chunks: wait for the count to pass a mark, not to hit it.
    await page.waitForFunction((n) => Number(document.querySelector('bb-app')!.shadowRoot!.querySelector('bb-log-page')!.shadowRoot!
      .querySelector('bb-log-viewer')!.shadowRoot!.querySelector('[data-testid=line-count]')!.textContent!.split(' ')[0]) >= n, lines + 20)
    assert.ok(await log.evaluate((e, t) => e.scrollTop <= t + 1, top), 'new lines do not pull the reader back down')
    await page.fill('input[aria-label="Search in log"]', 'line 1')
    await page.locator('.line.match mark', { hasText: 'line 1' }).first().waitFor()
    assert.ok(await page.locator('.line:not(.match) mark').count() >= 1, 'matches other than the current one are marked too')
  })
})

it('phone width: long titles wrap, step logs stay reachable, matrix names are not cut', async ({ h, url, ids }) => {
  await shoot(h!, 'long-title', `${url}#/builds/${ids!.longBuild}`, async (page, viewport) => {
    const h1 = page.locator('h1', { hasText: LONG })
    await h1.waitFor()
    assert.ok(await h1.evaluate((e) => e.scrollWidth <= e.clientWidth), 'the title fits')
    const log = page.locator('bb-step-logs a', { hasText: 'stdio' })
    await log.waitFor()
    const box = (await log.boundingBox())!
    const width = viewport === 'phone' ? 390 : 1280
    assert.ok(box.x + box.width <= width, `the logs link is on screen (${box.x + box.width} <= ${width})`)
  })
  await shoot(h!, 'matrix-names', `${url}#/builds/${ids!.evalBuild}`, async (page) => {
    for (const n of ['unit-1', 'unit-10']) {
      const attr = page.locator(`.job[data-attr="x86_64-linux.${n}"] .attr`)
      await attr.waitFor()
      assert.ok(await attr.evaluate((e) => e.scrollWidth <= e.clientWidth), `${n} is shown whole`)
    }
    const order = await page.locator('.job[data-attr] .attr').evaluateAll((els) => els.map((e) => e.textContent!.trim()))
    assert.ok(order.indexOf('x86_64-linux.unit-2') < order.indexOf('x86_64-linux.unit-10'), 'unit-2 sorts before unit-10')
  })
})

it('names: builds by number with their builder, pending lists only unclaimed requests, a missing build is explained', async ({ h, url, ids }) => {
  await shoot(h!, 'child-parent', `${url}#/builds/${ids!.failedChild}`, async (page) => {
    await page.locator('[data-testid=parent]', { hasText: /Triggered by acme\/demo\/nix-eval #\d+/ }).waitFor()
  })
  await shoot(h!, 'pending-unclaimed', `${url}#/buildrequests`, async (page) => {
    await page.locator(`tr[data-buildrequest="${ids!.brid}"]`, { hasText: 'arm-only' }).waitFor()
    assert.is(await page.locator('tr[data-buildrequest]').count(), 1, 'the running (claimed) requests are not pending')
    assert.is(await page.locator('main th', { hasText: 'Claimed' }).count(), 0)
  })
  await shoot(h!, 'request-named', `${url}#/buildrequests/${ids!.brid}`, async (page) => {
    await page.locator('main a', { hasText: 'arm-only' }).waitFor()
  })
  await shoot(h!, 'build-missing', `${url}#/builds/999999`, async (page) => {
    await page.locator('[role=alert]', { hasText: 'There is no build' }).waitFor()
  }, /status of 404/)
})

it('history: evaluations x attributes per branch, one attribute across evaluations', async ({ h, url, ids }) => {
  await shoot(h!, 'history-grid', `${url}#/projects/${ids!.project}/history`, async (page) => {
    await page.locator('h1', { hasText: 'History of main' }).waitFor()
    await page.locator('[data-testid=history-range]', { hasText: 'evaluations 1–3 of 3' }).waitFor()
    const row = (a: string) => page.locator(`.row-g[data-attr="x86_64-linux.${a}"]`)
    await row('unit-1').waitFor()
    const cells = async (a: string) => row(a).locator('.cell').evaluateAll((els) => els.map((e) => e.className.replace('cell ', '')))
    assert.equal(await cells('unit-1'), ['success', 'failed', 'failed'], 'newest evaluation first')
    assert.equal(await cells('added'), ['success', 'absent', 'absent'])
    assert.equal(await cells('slow'), ['absent', 'cancelled', 'interrupted'], 'cut off by the restart, not running')
    assert.is(await row('unit-1').locator('a.cell').first().getAttribute('href') !== null, true, 'a cell opens its build')
    const order = await page.locator('.row-g[data-attr]').evaluateAll((els) => els.map((e) => e.getAttribute('data-attr')))
    assert.ok(order.indexOf('x86_64-linux.unit-2') < order.indexOf('x86_64-linux.unit-10'), 'natural order')
  })
  await shoot(h!, 'history-attribute', `${url}#/projects/${ids!.project}/history?branch=main&attr=${encodeURIComponent('x86_64-linux.unit-1')}`, async (page) => {
    await page.locator('table[aria-label="attribute history"] tr[data-eval]').nth(2).waitFor()
    const states = await page.locator('table[aria-label="attribute history"] tr[data-eval] td:nth-child(2)').allInnerTexts()
    assert.equal(states.map((t) => t.trim()), ['success', 'failed', 'failed'])
  })
})

it('what changed since the previous evaluation of the branch, shown first', async ({ h, url, ids }) => {
  await shoot(h!, 'eval-diff', `${url}#/builds/${ids!.nextEval}`, async (page) => {
    const diff = page.locator('[data-testid=eval-diff]')
    await diff.waitFor()
    const group = async (k: string) => (await diff.locator(`[data-group=${k}] li`).evaluateAll((els) => els.map((e) => e.textContent!.trim()))).map((t) => t.replace('x86_64-linux.', ''))
    assert.equal(await group('newlyFailing'), ['unit-3'])
    assert.equal(await group('stillFailing'), ['unit-2', 'unit-10'])
    assert.equal(await group('fixed'), ['unit-1'])
    assert.equal(await group('added'), ['added'])
    assert.equal(await group('removed'), ['slow'])
    const diffTop = (await diff.boundingBox())!.y
    const matrixTop = (await page.locator('section[aria-label="build matrix"]').boundingBox())!.y
    assert.ok(diffTop < matrixTop, 'the changes come before the matrix')
  })
})

it('the error in one click: a failed check shows its first error line and last log lines; the link opens the log there', async ({ h, url, ids }) => {
  await shoot(h!, 'failure-excerpt', `${url}#/builds/${ids!.failedChild}`, async (page, viewport) => {
    const excerpt = page.locator('[data-testid=failure-excerpt]')
    await excerpt.locator('pre', { hasText: 'failed its assertion' }).waitFor()
    const first = excerpt.locator('[data-testid=first-error]')
    await first.waitFor()
    assert.match(await excerpt.locator('p code').innerText(), /error|failed/i)
    assert.match(await page.locator('[data-testid=nix-build-command]').innerText(), /^nix build '\/nix\/store\/.*\.drv\^\*'$/)
    if (viewport === 'desktop') {
      const n = Number((await first.innerText()).replace('line ', ''))
      await first.click()
      await page.locator(`.line.selected[data-line="${n}"]`).waitFor()
    }
  })
})

test.run()
