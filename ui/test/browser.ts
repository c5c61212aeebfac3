import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'

export const CHROMIUM = '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

export type Viewport = 'desktop' | 'phone'
const VIEWPORTS: Record<Viewport, { width: number; height: number }> = {
  desktop: { width: 1280, height: 900 },
  phone: { width: 390, height: 844 },
}

/** The system Chromium driven by playwright-core; never a downloaded browser. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS })
}

export interface OpenPage {
  page: Page
  context: BrowserContext
  /** Console errors and uncaught page errors, so a test can assert the page ran cleanly. */
  errors: string[]
  close(): Promise<void>
}

export async function newPage(browser: Browser, opts: { viewport?: Viewport; colorScheme?: 'light' | 'dark' } = {}): Promise<OpenPage> {
  const viewport = opts.viewport ?? 'desktop'
  const context = await browser.newContext({
    viewport: VIEWPORTS[viewport], colorScheme: opts.colorScheme ?? 'light',
    isMobile: viewport === 'phone', hasTouch: viewport === 'phone',
  })
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(String(e)))
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()) })
  return { page, context, errors, close: () => context.close() }
}

/** Saves `test-output/screenshots/<name>-<desktop|phone>.png` under the repository root. */
export async function screenshot(page: Page, name: string, viewport: Viewport = 'desktop'): Promise<string> {
  const dir = join(new URL('../..', import.meta.url).pathname, 'test-output', 'screenshots')
  await mkdir(dir, { recursive: true })
  const path = join(dir, `${name}-${viewport}.png`)
  await page.screenshot({ path, fullPage: false })
  return path
}

export async function closeBrowser(browser: Browser | undefined): Promise<void> {
  await browser?.close()
}
