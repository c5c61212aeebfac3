import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { buildUi } from '../build.ts'
import { launchBrowser } from './browser.ts'
import { makeFixtures } from './fixtures.ts'
import { startFixtureServer, type FixtureServer, type FixtureServerOptions } from './fixture-server.ts'

export interface Harness {
  browser: Browser
  dist: string
  start(opts?: Partial<Omit<FixtureServerOptions, 'distDir'>>): Promise<FixtureServer>
  close(): Promise<void>
}

/** Builds the bundle once into a temp dir and launches Chromium; servers are started per test. */
export async function createHarness(): Promise<Harness> {
  const dist = await mkdtemp(join(tmpdir(), 'bb-ui-'))
  await buildUi({ outDir: dist })
  const browser = await launchBrowser()
  const servers: FixtureServer[] = []
  return {
    browser,
    dist,
    async start(opts = {}) {
      const server = await startFixtureServer({ distDir: dist, data: opts.data ?? makeFixtures(), ...opts })
      servers.push(server)
      return server
    },
    async close() {
      await Promise.all(servers.map((s) => s.close()))
      await browser.close()
      await rm(dist, { recursive: true, force: true })
    },
  }
}
