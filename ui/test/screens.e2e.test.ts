import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haveTool } from '../../test/support/tools.ts'
import { makeFlakeRepo } from '../../test/fixtures/nix/make-flake.ts'
import { defineMaster, localWorker, worker, builder, steps, schedulers, createMaster, type Master, type PluginUse } from '../../core/index.ts'
import { resolveConfig } from '../../core/config/resolve.ts'
import { nix } from '../../plugins/nix/index.ts'
import { shoot, getJson, until } from './shoot.ts'
import { createHarness, type Harness } from './harness.ts'
import { freePort } from './free-port.ts'

/**
 * Every page of the UI against one real master with real builds, at desktop and phone width:
 * each page is checked for its main content, then saved as `<page>-<desktop|phone>.png`.
 */
type Ids = { passBuild: number; failBuild: number; slowBuild: number; passBuilder: number; waitBuilder: number; brid: number; project: number; evalBuild?: number }
const test = suite<{ h?: Harness; master?: Master; basedir?: string; url?: string; ids?: Ids }>('every page, screenshotted at two widths')
const enabled = haveTool('chromium', 'apt-get install -y chromium')
const withNix = enabled && haveTool('nix', 'apt-get install -y nix-bin')
const it = enabled ? test : test.skip
const itNix = withNix ? test : test.skip

const FAIL = 'echo compiling; echo "error: undefined reference to main" >&2; echo "collect2: ld returned 1 exit status" >&2; exit 1'

test.before(async (ctx) => {
  if (!enabled) return
  ctx.h = await createHarness()
  ctx.basedir = await mkdtemp(join(tmpdir(), 'bb-ui-screens-'))
  const plugins: PluginUse<any>[] = []
  if (withNix) {
    const repo = join(ctx.basedir, 'repo')
    makeFlakeRepo(repo, {
      checks: {
        ok: {}, dep: { deps: ['ok'] }, broken: { script: 'echo about to fail; exit 3' }, needsBroken: { deps: ['broken'] },
        bad: { throws: 'this check is broken' },
      },
    })
    plugins.push(nix({ projects: [{ name: 'acme/demo', url: repo, defaultBranch: 'main' }], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 2 }))
  }
  // buildbotURL must name the real port: the master checks a POST's Origin against it.
  const port = await freePort()
  const config = await resolveConfig(defineMaster({
    title: 'Screens', basedir: ctx.basedir, db: `sqlite:${join(ctx.basedir, 'state.sqlite')}`, logLevel: 'error',
    www: { host: '127.0.0.1', port }, buildbotURL: `http://127.0.0.1:${port}/`,
    protocols: { msgpack: { port: 0, host: '127.0.0.1' } },
    // 'offline' never connects, so a request for its builder stays pending.
    workers: [localWorker({ name: 'local', maxBuilds: 6 }), worker({ name: 'offline', password: 'unused' })],
    builders: [
      builder({ name: 'lint', project: 'tools', workers: ['local'], steps: [steps.shell({ name: 'lint', command: ['sh', '-c', 'echo all clean'] })] }),
      builder({ name: 'link', project: 'tools', workers: ['local'], steps: [steps.shell({ name: 'link', command: ['sh', '-c', FAIL] })] }),
      builder({ name: 'soak', project: 'tools', workers: ['local'], steps: [steps.shell({ name: 'soak', command: ['sleep', '300'] })] }),
      builder({ name: 'arm-only', project: 'tools', workers: ['offline'], steps: [steps.shell({ name: 'noop', command: ['true'] })] }),
    ],
    schedulers: ['lint', 'link', 'soak', 'arm-only'].map((b) => schedulers.force({ name: `force-${b}`, builderNames: [b] })),
    plugins,
  }), join(ctx.basedir, 'master.config.ts'))
  ctx.master = createMaster({ config, uiDir: ctx.h.dist })
  await ctx.master.start()
  ctx.url = `http://127.0.0.1:${port}/`
  const api = (path: string) => getJson(`${ctx.url}api/v2/${path}`)

  const control = ctx.master.control
  if (withNix) {
    const evalForce = control.forceSchedulers().find((s) => s.name.endsWith('-force'))!
    await control.force(evalForce.name, { reason: 'screens' }, 'tester')
  }
  for (const b of ['lint', 'link', 'soak', 'arm-only']) await control.force(`force-${b}`, { reason: 'screens' }, 'tester')

  const builderId = async (name: string) => ((await api(`builders?name=${encodeURIComponent(name)}`)).builders[0] as { builderid: number }).builderid
  const build = async (builder: number, complete: boolean) => {
    const q = `builders/${builder}/builds?complete=${complete}&order=-number&limit=1`
    return until(async () => ((await api(q)).builds[0] as { buildid: number } | undefined)?.buildid)
  }
  const passBuilder = await builderId('lint')
  const ids: Ids = {
    passBuilder,
    waitBuilder: await builderId('arm-only'),
    passBuild: await build(passBuilder, true),
    failBuild: await build(await builderId('link'), true),
    slowBuild: await build(await builderId('soak'), false),
    brid: await until(async () => ((await api('buildrequests?claimed=false')).buildrequests[0] as { buildrequestid: number } | undefined)?.buildrequestid),
    project: await until(async () => ((await api('projects?name=tools')).projects[0] as { projectid: number } | undefined)?.projectid),
  }
  if (withNix) {
    const evalBuilder = await until(async () => ((await api(`builders?name=${encodeURIComponent('acme/demo/nix-eval')}`)).builders[0] as { builderid: number } | undefined)?.builderid)
    ids.evalBuild = await build(evalBuilder, true)
    // The children finish after the evaluation step; wait until none is left running or pending.
    await until(async () => {
      const running = (await api('builds?complete=false')).builds.length
      const pending = (await api('buildrequests?claimed=false')).buildrequests.length
      return running === 1 && pending === 1 ? true : undefined
    })
  }
  ctx.ids = ids
})

test.after(async (ctx) => {
  await ctx.master?.stop()
  await ctx.h?.close()
  if (ctx.basedir) await rm(ctx.basedir, { recursive: true, force: true })
})

it('projects', async ({ h, url }) => {
  await shoot(h!, 'projects', url!, async (page) => {
    await page.locator('h1', { hasText: 'Projects' }).waitFor()
    await page.locator('article', { hasText: 'tools' }).waitFor()
    if (withNix) await page.locator('article', { hasText: 'acme/demo' }).locator('.badge', { hasText: 'main: failure' }).waitFor()
  })
})

it('a project', async ({ h, url, ids }) => {
  await shoot(h!, 'project', `${url}#/projects/${ids!.project}`, async (page) => {
    await page.locator('h1', { hasText: 'tools' }).waitFor()
    await page.locator('table[aria-label=builders] a[href^="#/builders/"]', { hasText: 'lint' }).waitFor()
  })
})

it('builders', async ({ h, url }) => {
  await shoot(h!, 'builders', `${url}#/builders`, async (page) => {
    await page.locator('h1', { hasText: 'Builders' }).waitFor()
    for (const b of ['lint', 'link', 'soak', 'arm-only']) await page.locator('table[aria-label=builders] a', { hasText: b }).first().waitFor()
  })
})

it('a builder', async ({ h, url, ids }) => {
  await shoot(h!, 'builder', `${url}#/builders/${ids!.passBuilder}`, async (page) => {
    await page.locator('h1', { hasText: 'lint' }).waitFor()
    await page.locator('table[aria-label=builds] tr', { hasText: '#1' }).locator('.badge.success').waitFor()
    await page.locator('bb-force-form button.primary').first().waitFor()
  })
})

it('a failed build and a running one', async ({ h, url, ids }) => {
  await shoot(h!, 'build', `${url}#/builds/${ids!.failBuild}`, async (page) => {
    await page.locator('h1', { hasText: 'link #1' }).waitFor()
    await page.locator('table[aria-label=steps] tr', { hasText: 'link' }).locator('.badge.failure').waitFor()
    await page.locator('table[aria-label=properties] td', { hasText: 'reason' }).waitFor()
  })
  await shoot(h!, 'build-running', `${url}#/builds/${ids!.slowBuild}`, async (page) => {
    await page.locator('h1', { hasText: 'soak #1' }).waitFor()
    await page.locator('bb-action button', { hasText: 'Stop' }).waitFor()
  })
})

it('a log with stderr', async ({ h, url, ids }) => {
  await shoot(h!, 'log', `${url}#/builds/${ids!.failBuild}/steps/0/logs/stdio`, async (page) => {
    await page.locator('h1', { hasText: 'Log stdio' }).waitFor()
    await page.locator('.line', { hasText: 'undefined reference to main' }).last().waitFor()
    await page.locator('.line', { hasText: 'ld returned 1 exit status' }).last().waitFor()
  })
})

itNix('the evaluation with its build matrix and timeline', async ({ h, url, ids }) => {
  await shoot(h!, 'matrix', `${url}#/builds/${ids!.evalBuild}`, async (page) => {
    await page.locator('section[aria-label="build matrix"]').waitFor()
    await page.locator('[data-testid=matrix-counts]', { hasText: '5 attributes' }).waitFor()
    await page.locator('[data-testid=matrix-counts]', { hasText: '0 running or waiting' }).waitFor()
    await page.locator('.job[data-attr="x86_64-linux.bad"]', { hasText: 'this check is broken' }).waitFor()
    await page.locator('.job[data-attr="x86_64-linux.bad"] .badge', { hasText: 'eval-failed' }).waitFor()
    await page.locator('.job[data-attr="x86_64-linux.broken"] .badge', { hasText: 'failed' }).waitFor()
    await page.locator('.job[data-attr="x86_64-linux.needsBroken"] .badge', { hasText: 'dependency-failed' }).waitFor()
    await page.locator('.job[data-attr="x86_64-linux.ok"] .badge', { hasText: 'success' }).waitFor()
    await page.locator('[data-testid=timeline-stats]', { hasText: 'Slowest' }).waitFor()
  })
})

it('workers', async ({ h, url }) => {
  await shoot(h!, 'workers', `${url}#/workers`, async (page) => {
    await page.locator('tr[data-worker="local"]', { hasText: 'connected' }).waitFor()
    await page.locator('tr[data-worker="offline"]').waitFor()
  })
})

it('pending build requests', async ({ h, url, ids }) => {
  await shoot(h!, 'buildrequests', `${url}#/buildrequests`, async (page) => {
    await page.locator('h1', { hasText: 'Pending build requests' }).waitFor()
    await page.locator(`tr[data-buildrequest="${ids!.brid}"]`, { hasText: 'arm-only' }).waitFor()
  })
})

it('a build request', async ({ h, url, ids }) => {
  await shoot(h!, 'buildrequest', `${url}#/buildrequests/${ids!.brid}`, async (page) => {
    await page.locator('h1', { hasText: `Build request ${ids!.brid}` }).waitFor()
    await page.locator(`main a[href="#/builders/${ids!.waitBuilder}"]`).waitFor()
    await page.locator('main', { hasText: 'No build started yet.' }).waitFor()
    await page.locator('bb-action button', { hasText: 'Cancel' }).waitFor()
  })
})

test.run()
