import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defineMaster, type MasterConfig } from '../../core/config/define-master.ts'
import { resolveConfig } from '../../core/config/resolve.ts'
import { createMaster, type Master } from '../../core/master.ts'
import type { ResolvedConfig } from '../../core/config/resolved-config.ts'
import type { RoutingKey } from '../../core/bus/bus.ts'
import type { Result } from '../../core/util/results.ts'
import type { TestDatabase } from './databases.ts'
import type { Logger } from '../../core/util/logger.ts'

export interface MasterHarness {
  master: Master
  /** The temporary base directory (state, worker folders, mirrors). */
  basedir: string
  dbUrl: string
  config: ResolvedConfig
  /** Resolves the same way as the master does from `input` (basedir, db and www forced to the harness's). */
  resolve(input: MasterConfig): Promise<ResolvedConfig>
  builderId(name: string): number
  /** Adds a buildset for builders by name straight through the data layer. */
  addBuildset(builderNames: string[], opts?: { properties?: Record<string, unknown>; branch?: string | null; revision?: string | null; repository?: string; priority?: number; reason?: string }): Promise<{ bsid: number; brids: Record<number, number> }>
  /** Forces a build through the control surface (as JSON-RPC `force` does). */
  force(scheduler: string, params?: Record<string, unknown>): Promise<{ bsid: number; brids: Record<string, number> }>
  /** The first bus message matching `pattern` (and `filter`), or rejects after `ms`. Subscribe BEFORE causing the event. */
  waitFor<T = unknown>(pattern: string, filter?: (msg: T, key: RoutingKey) => boolean, ms?: number): Promise<T>
  /** Waits until the buildset is complete (checking the database first); resolves with its results. */
  waitBuildset(bsid: number, ms?: number): Promise<Result>
  /** Polls `check` (async allowed) until it returns a truthy value, or rejects after `ms`. */
  until<T>(check: () => T | Promise<T>, what: string, ms?: number): Promise<NonNullable<T>>
  stop(): Promise<void>
}

/**
 * Starts a real master in-process on a fresh temp basedir and database, from a config as
 * `master.config.ts` would give it (`defineMaster` + `resolveConfig` + `createMaster`).
 */
export async function startMaster(db: TestDatabase, input: MasterConfig, opts: { basedir?: string; dbUrl?: string; keepBasedir?: boolean; log?: Logger; logDestination?: { write(line: string): void } } = {}): Promise<MasterHarness> {
  const basedir = opts.basedir ?? mkdtempSync(join(tmpdir(), 'bbn-core-'))
  const dbUrl = opts.dbUrl ?? await db.url(basedir)
  const resolve = (cfg: MasterConfig) => resolveConfig(defineMaster({
    logLevel: (process.env.TEST_LOG_LEVEL as MasterConfig['logLevel']) ?? 'error', masterName: `test:${basedir}`,
    ...cfg, basedir, db: dbUrl, www: { host: '127.0.0.1', ...(cfg.www ?? {}), port: 0 },
  }), join(basedir, 'master.config.ts'))
  const config = await resolve(input)
  const master = createMaster({ config, log: opts.log, logDestination: opts.logDestination })
  try {
    await master.start()
  } catch (err) {
    await master.stop().catch(() => {})
    if (!opts.keepBasedir && !opts.basedir) rmSync(basedir, { recursive: true, force: true })
    throw err
  }
  let stopped = false

  const h: MasterHarness = {
    master, basedir, dbUrl, config, resolve,
    builderId(name) {
      const b = master.brd.builder(name)
      if (!b) throw new Error(`no builder '${name}'`)
      return b.builderid
    },
    async addBuildset(names, o = {}) {
      const props: Record<string, [unknown, string]> = {}
      for (const [k, v] of Object.entries(o.properties ?? {})) props[k] = [v, 'test']
      const [added] = await master.data.buildsets.addBuildsets([{
        reason: o.reason ?? 'test', builderids: names.map((n) => h.builderId(n)), properties: props, priority: o.priority ?? 0,
        sourcestamps: [{ branch: o.branch ?? null, revision: o.revision ?? null, repository: o.repository ?? '', codebase: '', project: '' }],
      }])
      return added!
    },
    async force(scheduler, params = {}) {
      const [bsid, brids] = await master.control.force(scheduler, params, 'tester')
      return { bsid, brids }
    },
    waitFor<T>(pattern: string, filter: (msg: T, key: RoutingKey) => boolean = () => true, ms = 30_000) {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => { sub.unsubscribe(); reject(new Error(`no '${pattern}' event within ${ms} ms`)) }, ms)
        const sub = master.bus.subscribe(pattern, (key, msg) => {
          if (!filter(msg as T, key)) return
          clearTimeout(timer)
          sub.unsubscribe()
          resolve(msg as T)
        })
      })
    },
    async waitBuildset(bsid, ms = 30_000) {
      // Subscribed before the database check, so a completion in between is not missed.
      let sub: { unsubscribe(): void } | undefined
      let timer: NodeJS.Timeout | undefined
      const ev = new Promise<Result>((resolve, reject) => {
        timer = setTimeout(() => { sub?.unsubscribe(); reject(new Error(`buildset ${bsid} did not complete within ${ms} ms`)) }, ms)
        sub = master.bus.subscribe(`buildsets/${bsid}/complete`, (_k, m) => resolve((m as { results: number }).results as Result))
      })
      try {
        const row = await master.data.db.k.selectFrom('buildsets').select(['complete', 'results']).where('bsid', '=', bsid).executeTakeFirst()
        return row?.complete ? row.results as Result : await ev
      } finally {
        clearTimeout(timer)
        sub?.unsubscribe()
      }
    },
    async until(check, what, ms = 30_000) {
      const deadline = Date.now() + ms
      for (;;) {
        const v = await check()
        if (v) return v as NonNullable<typeof v>
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
        await new Promise((r) => setTimeout(r, 20))
      }
    },
    async stop() {
      if (stopped) return
      stopped = true
      await master.stop()
      if (!opts.keepBasedir && !opts.basedir) rmSync(basedir, { recursive: true, force: true })
    },
  }
  return h
}

/**
 * Registers `title` once per test database (`[sqlite] title`, `[postgres] title`); the master
 * the body starts with `start(config)` is stopped and its database dropped afterwards.
 */
export function eachDb(
  t: (title: string, fn: () => Promise<void>) => void, title: string,
  fn: (start: (cfg: MasterConfig, o?: { basedir?: string; dbUrl?: string }) => Promise<MasterHarness>, db: TestDatabase) => Promise<void>,
  dbs: TestDatabase[],
): void {
  for (const db of dbs) {
    t(`[${db.name}] ${title}`, async () => {
      const started: MasterHarness[] = []
      try {
        await fn(async (cfg, o) => { const h = await startMaster(db, cfg, o); started.push(h); return h }, db)
      } finally {
        for (const h of started.reverse()) await h.stop().catch((e) => console.error('stopping a test master failed:', e))
        await db.cleanup()
      }
    })
  }
}
