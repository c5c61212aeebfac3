// UI figures, one JSON line each: bundle size (gzip) and, in the system Chromium, how long the
// build-matrix page with 5,000 attributes takes to be usable, and to absorb 5,000 live updates;
// then, against a real master, the main-thread time per second of the builds page and the
// matrix page while builds finish at 200 a minute (UI_LIVE_BUILDS=50 over 15 s by default;
// 200 gives a full minute; 0 skips it).
// Run: node --import tsx bench/ui.bench.ts
import { execFileSync } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { randomBytes } from 'node:crypto'
import type { Page } from 'playwright-core'
import { createHarness, type Harness } from '../ui/test/harness.ts'
import { newPage } from '../ui/test/browser.ts'
import { makeFixtures, makeJob, EVAL_BUILD } from '../ui/test/fixtures.ts'
import { makeFlakeRepo, type DrvSpec } from '../test/fixtures/nix/make-flake.ts'
import { defineMaster, localWorker, createMaster } from '../core/index.ts'
import { resolveConfig } from '../core/config/resolve.ts'
import { nix } from '../plugins/nix/index.ts'

const JOBS = 5000
const h = await createHarness()
try {
  const js = await readFile(join(h.dist, 'app.js'))
  console.log(JSON.stringify({ bench: 'ui.bundle', raw_kib: +(js.length / 1024).toFixed(1), gzip_kib: +(gzipSync(js).length / 1024).toFixed(1), budget_gzip_kib: 150 }))

  const server = await h.start({ data: makeFixtures({ jobs: JOBS }) })
  for (let run = 1; run <= 3; run++) {
    const { page, close } = await newPage(h.browser)
    await probeFrame(page, ['bb-build-page', 'bb-nix-matrix'], '.job[data-attr]', '[data-testid=matrix-counts]', `${JOBS} attributes`)
    await page.goto(`${server.url}#/builds/${EVAL_BUILD}`)
    await page.locator('[data-testid=matrix-counts]', { hasText: `${JOBS} attributes` }).waitFor()
    await page.locator('.job[data-attr]').first().waitFor({ state: 'attached' })
    const t = await usableAt(page)
    console.log(JSON.stringify({ bench: 'ui.matrix.5000.usable', run, first_contentful_paint_ms: t.fcp && Math.round(t.fcp), list_rendered_ms: Math.round(t.usable), budget_ms: 1500 }))

    if (run === 1) {
      await server.subscribed(`builds/${EVAL_BUILD}/nixjobs/*/*`)
      const started = await page.evaluate(() => performance.now())
      const now = Date.now()
      for (let i = 1; i <= JOBS; i++) server.publish(`builds/${EVAL_BUILD}/nixjobs/${i}/update`, makeJob(i, 'failed', now))
      await page.locator('button[data-filter=failed]', { hasText: `failed (${JOBS})` }).waitFor()
      const done = await page.evaluate(() => new Promise<number>((r) => requestAnimationFrame(() => r(performance.now()))))
      console.log(JSON.stringify({ bench: 'ui.matrix.5000.live_updates', events: JOBS, applied_and_rendered_ms: Math.round(done - started) }))
    }
    await close()
  }

  await historyGrid(h)
  // UI_LIVE_BUILDS=0: only the fixture figures (no master, no nix).
  if (process.env.UI_LIVE_BUILDS !== '0') await liveLoad(h)
} finally {
  await h.close()
}

/**
 * The history grid of a branch with 50 evaluations x 1,000 attributes (fixture data in the Nix
 * plugin's `nixgrid` shape): time until the grid's first rows are on screen.
 */
async function historyGrid(h: Harness): Promise<void> {
  const EVALS = 50, ATTRS = 1000
  const data = makeFixtures()
  const codes = 'sssssssssfdkx'
  for (let i = 0; i < EVALS; i++) {
    const buildid = 1000 + i
    data.builds.push({ buildid, number: 100 + i, builderid: 1, buildrequestid: 1, workerid: 1, masterid: 1, started_at: 1_700_000_000 + i * 600,
      complete: true, complete_at: 1_700_000_300 + i * 600, locks_duration_s: 0, results: 2, state_string: 'build failed', properties: {} })
    data.properties.set(buildid, { branch: ['main', 'Change'], event: ['push', 'Change'], got_revision: [`${i}`.padStart(40, 'a'), 'Git'] })
  }
  const attrs = Array.from({ length: ATTRS }, (_, i) => `x86_64-linux.check-${i}`)
  data.grid = (ids) => ({
    id: ids.join(','), attrs, codes: { s: 'success', f: 'failed', d: 'dependency-failed', k: 'skipped', x: 'cancelled', '.': 'absent' },
    evaluations: ids.map((buildid, e) => ({
      buildid, states: attrs.map((_, a) => codes[(a * 7 + e * 3) % codes.length]).join(''), children: attrs.map((_, a) => 100_000 + e * ATTRS + a),
    })),
  })
  const server = await h.start({ data })
  for (let run = 1; run <= 3; run++) {
    const { page, close } = await newPage(h.browser)
    await probeFrame(page, ['bb-history-page'], '.row-g[data-attr] .cell', '[data-testid=history-range]', `evaluations 1–${EVALS} of`)
    await page.goto(`${server.url}#/projects/1/history?branch=main`)
    await page.locator('[data-testid=history-range]', { hasText: `evaluations 1–${EVALS} of` }).waitFor()
    await page.locator('.row-g[data-attr] .cell').first().waitFor({ state: 'attached' })
    const { usable } = await usableAt(page)
    const cells = await page.locator('.row-g[data-attr] .cell').count()
    console.log(JSON.stringify({ bench: 'ui.history_grid.50x1000.usable', run, grid_rendered_ms: Math.round(usable), cells_in_dom: cells, budget_ms: 1500 }))
    await close()
  }
}

/**
 * A real master evaluates a flake of N checks; once all N builds run, they are let finish one
 * every 60/200 s, so builds finish at 200 a minute while a builder page listing them and the
 * evaluation's matrix page are open. Every second, CDP `Performance.getMetrics` gives each
 * page's cumulative main-thread task time; the deltas are the busy milliseconds per second.
 */
async function liveLoad(h: Harness): Promise<void> {
  try { execFileSync('nix', ['--version'], { stdio: 'ignore' }) } catch {
    console.log(JSON.stringify({ bench: 'ui.live.200_builds_per_min', skipped: 'nix is not installed' }))
    return
  }
  const n = Number(process.env.UI_LIVE_BUILDS ?? 50)
  const gapS = 60 / 200
  const basedir = await mkdtemp(join(tmpdir(), 'bb-ui-bench-live-'))
  const repo = join(basedir, 'repo')
  const checks: Record<string, DrvSpec> = {}
  const gates = join(basedir, 'gates')
  // The checks run as nix build users (no sandbox here): they must reach the gate directory.
  await chmod(basedir, 0o755)
  await mkdir(gates, { mode: 0o777 })
  await chmod(gates, 0o777)
  // Each running check waits for a token file and claims it by an atomic rename, so the bench
  // sets the finishing pace whichever checks nix happens to be running.
  const script = `while :; do for f in ${gates}/t*; do [ -e "$f" ] && /bin/mv "$f" "\${f%/*}/claimed-\${f##*/}" 2>/dev/null && { echo ok > $out; exit 0; }; done; /bin/sleep 0.05; done`
  for (let i = 0; i < n; i++) checks[`c${String(i).padStart(3, '0')}`] = { script }
  makeFlakeRepo(repo, { checks, salt: randomBytes(6).toString('hex') })
  const config = await resolveConfig(defineMaster({
    title: 'Live bench', basedir, db: `sqlite:${join(basedir, 'state.sqlite')}`, logLevel: 'error',
    www: { host: '127.0.0.1', port: 0 },
    workers: [localWorker({ name: 'local', maxBuilds: n + 8 })],
    plugins: [nix({ projects: [{ name: 'bench/live', url: repo, defaultBranch: 'main' }], workers: ['local'], buildSystems: ['x86_64-linux'], shareNixProcesses: false })],
  }), join(basedir, 'master.config.ts'))
  const master = createMaster({ config, uiDir: h.dist })
  await master.start()
  const url = `http://127.0.0.1:${master.ports.www}/`
  const pages: { name: string; page: Page; close(): Promise<void> }[] = []
  let pace: NodeJS.Timeout | undefined
  try {
    const builders = await (await fetch(`${url}api/v2/builders`)).json() as { builders: { builderid: number; name: string }[] }
    const idOf = (name: string) => builders.builders.find((b) => b.name === name)!.builderid
    const evalBuilder = idOf('bench/live/nix-eval')
    const buildBuilder = idOf('bench/live/nix-build')
    const finished: number[] = []
    let evalBuild = 0
    let started = 0
    master.bus.subscribe('builds/*/new', (_k, m) => {
      const b = m as { builderid: number; buildid: number }
      if (b.builderid === evalBuilder) evalBuild ||= b.buildid
      if (b.builderid === buildBuilder) started++
    })
    master.bus.subscribe('builds/*/finished', (_k, m) => { if ((m as { builderid: number }).builderid === buildBuilder) finished.push(performance.now()) })

    const builds = await newPage(h.browser)
    await builds.page.goto(`${url}#/builders/${buildBuilder}`)
    await builds.page.locator('h1', { hasText: 'bench/live/nix-build' }).waitFor()
    pages.push({ name: 'builder-builds', ...builds })
    const idle = await sampleBusy([builds.page], 3, () => false)

    await master.control.force(master.control.forceSchedulers().find((s) => s.name.endsWith('-force'))!.name, { reason: 'bench' }, 'bench')
    while (!evalBuild) await new Promise((r) => setTimeout(r, 50))
    const matrix = await newPage(h.browser)
    await matrix.page.goto(`${url}#/builds/${evalBuild}`)
    await matrix.page.locator('section[aria-label="build matrix"]').waitFor()
    pages.push({ name: 'matrix', ...matrix })
    const deadline = Date.now() + 300_000
    while (started < n) {
      if (Date.now() > deadline) throw new Error(`only ${started} of ${n} builds started`)
      await new Promise((r) => setTimeout(r, 50))
    }
    // Release one build every 60/200 s while the pages are sampled.
    let released = 0
    pace = setInterval(() => { if (released < n) void writeFile(join(gates, `t${released++}`), '') }, gapS * 1000)
    const busy = await sampleBusy(pages.map((p) => p.page), 600, () => finished.length >= n)
    clearInterval(pace)
    await matrix.page.locator('[data-testid=matrix-counts]', { hasText: `${n} attributes · ${n} done` }).waitFor()
    await builds.page.locator('table[aria-label=builds] .badge.success').nth(Math.min(n, 20) - 1).waitFor()
    const windowS = (finished[finished.length - 1]! - finished[0]!) / 1000
    const stats = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b)
      const q = (p: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!)
      return { mean: Math.round(xs.reduce((a, b) => a + b, 0) / xs.length), median: q(0.5), p95: q(0.95), max: q(1) }
    }
    console.log(JSON.stringify({ bench: 'ui.live.idle', page: 'builder-builds', seconds: idle[0]!.length, main_thread_ms_per_s: stats(idle[0]!) }))
    pages.forEach((p, i) => console.log(JSON.stringify({
      bench: 'ui.live.200_builds_per_min', page: p.name, builds: n, finish_window_s: +windowS.toFixed(1),
      finish_rate_per_min: Math.round((n - 1) / windowS * 60), seconds_sampled: busy[i]!.length, main_thread_ms_per_s: stats(busy[i]!),
    })))
  } finally {
    clearInterval(pace)
    // Let any check still waiting finish, so no build user is left polling a deleted directory.
    for (let i = 0; i < n; i++) await writeFile(join(gates, `t-end${i}`), '').catch(() => {})
    for (const p of pages) await p.close()
    await master.stop()
    await rm(basedir, { recursive: true, force: true })
  }
}

/**
 * Times are taken inside the page, from navigation start: at every animation frame a probe looks
 * for the content along a path of shadow roots under `bb-app`, and keeps the time of the first
 * frame in which `rows` exists and `label` says `text` (the content is then painted in that
 * frame). Playwright's own polling, which lags the page, is not counted.
 */
async function probeFrame(page: Page, path: string[], rows: string, label: string, text: string): Promise<void> {
  // A script text, not a function: the TypeScript loader would name inner functions with a helper
  // the page does not have.
  await page.addInitScript({ content: `(() => {
    const [path, rows, label, text] = ${JSON.stringify([path, rows, label, text])}
    const frame = () => {
      let root = document.querySelector('bb-app')?.shadowRoot ?? null
      for (const tag of path) root = root?.querySelector(tag)?.shadowRoot ?? null
      if (root?.querySelector(rows) && root.querySelector(label)?.textContent?.includes(text)) { window.__usableAt = performance.now(); return }
      requestAnimationFrame(frame)
    }
    requestAnimationFrame(frame)
  })()` })
}

async function usableAt(page: Page): Promise<{ usable: number; fcp: number | null }> {
  await page.waitForFunction(() => (window as unknown as { __usableAt?: number }).__usableAt !== undefined)
  return page.evaluate(() => ({
    usable: (window as unknown as { __usableAt: number }).__usableAt,
    fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
  }))
}

/** Main-thread busy ms per wall second for each page, one sample a second until `done()` (plus one more). */
async function sampleBusy(pages: Page[], maxSeconds: number, done: () => boolean): Promise<number[][]> {
  const sessions = await Promise.all(pages.map(async (page) => {
    const cdp = await page.context().newCDPSession(page)
    await cdp.send('Performance.enable')
    return cdp
  }))
  const read = () => Promise.all(sessions.map(async (cdp) => {
    const { metrics } = await cdp.send('Performance.getMetrics')
    return metrics.find((m) => m.name === 'TaskDuration')!.value * 1000
  }))
  const out: number[][] = pages.map(() => [])
  let last = await read()
  let lastAt = performance.now()
  for (let s = 0; s < maxSeconds; s++) {
    await new Promise((r) => setTimeout(r, 1000))
    const now = await read()
    const at = performance.now()
    now.forEach((v, i) => out[i]!.push((v - last[i]!) / ((at - lastAt) / 1000)))
    last = now
    lastAt = at
    if (done()) break
  }
  await Promise.all(sessions.map((cdp) => cdp.detach()))
  return out
}
