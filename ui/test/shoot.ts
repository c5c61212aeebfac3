import * as assert from 'uvu/assert'
import type { Page } from 'playwright-core'
import { newPage, screenshot, type Viewport } from './browser.ts'
import type { Harness } from './harness.ts'

export const VIEWPORTS: Viewport[] = ['desktop', 'phone']

/**
 * Opens a page at desktop and phone width, runs `check`, saves `<name>-<viewport>.png`, and asserts
 * the page ran without console errors (but those `allowError` matches) and is no wider than the screen.
 */
export async function shoot(h: Harness, name: string, url: string, check: (page: Page, viewport: Viewport) => Promise<void>, allowError?: RegExp): Promise<void> {
  for (const viewport of VIEWPORTS) {
    const { page, errors, close } = await newPage(h.browser, { viewport })
    try {
      await page.goto(url)
      await check(page, viewport)
      await page.evaluate(() => document.fonts.ready)
      await screenshot(page, name, viewport)
      assert.equal(errors.filter((e) => !allowError?.test(e)), [], `${name} at ${viewport} ran without errors`)
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      assert.ok(overflow <= 0, `${name} at ${viewport} is ${overflow}px wider than the screen`)
    } finally {
      await close()
    }
  }
}

/** GET a JSON answer of the master under test, failing on any non-2xx status. */
export async function getJson(url: string): Promise<Record<string, unknown[]>> {
  const res = await fetch(url)
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`)
  return res.json() as Promise<Record<string, unknown[]>>
}

/** Polls until `f` gives a value; the master has no "wait for" API, and events would need a socket. */
export async function until<T>(f: () => Promise<T | undefined>, limitMs = 120_000): Promise<T> {
  const end = Date.now() + limitMs
  for (;;) {
    const v = await f()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error('gave up waiting for the master')
    await new Promise((r) => setTimeout(r, 200))
  }
}
