// UI figures, one JSON line each: bundle size (gzip) and, in the system Chromium, how long the
// build-matrix page with 5,000 attributes takes to be usable, and to absorb 5,000 live updates.
// Run: node --import tsx bench/ui.bench.ts
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { createHarness } from '../ui/test/harness.ts'
import { newPage } from '../ui/test/browser.ts'
import { makeFixtures, makeJob, EVAL_BUILD } from '../ui/test/fixtures.ts'

const JOBS = 5000
const h = await createHarness()
try {
  const js = await readFile(join(h.dist, 'app.js'))
  console.log(JSON.stringify({ bench: 'ui.bundle', raw_kib: +(js.length / 1024).toFixed(1), gzip_kib: +(gzipSync(js).length / 1024).toFixed(1), budget_gzip_kib: 150 }))

  const server = await h.start({ data: makeFixtures({ jobs: JOBS }) })
  for (let run = 1; run <= 3; run++) {
    const { page, close } = await newPage(h.browser)
    await page.goto(`${server.url}#/builds/${EVAL_BUILD}`)
    await page.locator('[data-testid=matrix-counts]', { hasText: `${JOBS} attributes` }).waitFor()
    await page.locator('.job[data-attr]').first().waitFor({ state: 'attached' })
    // Times measured inside the page, from navigation start.
    const t = await page.evaluate(() => new Promise<{ fcp: number | null; usable: number }>((resolve) =>
      requestAnimationFrame(() => resolve({
        usable: performance.now(),
        fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
      }))))
    console.log(JSON.stringify({ bench: 'ui.matrix.5000.usable', run, first_contentful_paint_ms: t.fcp && Math.round(t.fcp), list_rendered_ms: Math.round(t.usable) }))

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
} finally {
  await h.close()
}
