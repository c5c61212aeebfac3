import { sql } from 'kysely'
import type { Db } from '../db/connect.ts'
import type { Logger } from '../util/logger.ts'

/** `retention` in `defineMaster({...})`: what the janitor prunes. */
export interface RetentionConfig {
  logs?: {
    /** Log contents of builds finished more than this many days ago are deleted. */
    olderThanDays?: number
    /** When the stored log contents exceed this size, the oldest finished builds' logs are deleted until they fit. */
    maxTotalMB?: number
  }
  builds?: {
    /** Builds finished more than this many days ago are deleted with their steps and logs. */
    olderThanDays?: number
  }
  /** Minutes between two passes (default 60); a pass also runs at start. */
  intervalMinutes?: number
}

/** What one pass deleted. */
export interface PruneStats { logs: number; logchunks: number; builds: number; steps: number }

const DAY_S = 86_400
/** Rows handled per transaction: a pass never holds the database for long. */
const BATCH = 200

export interface Janitor {
  start(): void
  /** Runs one pass now (after the one running, if any) and resolves with what it deleted. */
  prune(): Promise<PruneStats>
  stop(): Promise<void>
}

/**
 * Prunes logs and builds by age and size, as Buildbot's JanitorConfigurator does with
 * `logHorizon` and `build_data_horizon`: a pruned log keeps its row with type `d` (its contents
 * are gone, the REST API answers 404 for them); a pruned build loses its row, steps and logs.
 * Only finished builds are touched. Work goes in small batches, one transaction each.
 */
export function createJanitor(deps: { db: () => Db; log: Logger; config: () => RetentionConfig | undefined; now?: () => number }): Janitor {
  const now = deps.now ?? (() => Date.now())
  let timer: NodeJS.Timeout | undefined
  let running: Promise<PruneStats> = Promise.resolve({ logs: 0, logchunks: 0, builds: 0, steps: 0 })
  let stopped = false
  const yieldLoop = () => new Promise<void>((r) => setImmediate(r))

  /** Deletes the contents of these logs and marks them `d`. */
  async function dropLogs(logids: number[], stats: PruneStats) {
    if (!logids.length) return
    await deps.db().k.transaction().execute(async (trx) => {
      const chunks = await trx.deleteFrom('logchunks').where('logid', 'in', logids).executeTakeFirst()
      const logs = await trx.updateTable('logs').set({ type: 'd' }).where('logid', 'in', logids).where('type', '!=', 'd').executeTakeFirst()
      stats.logchunks += Number(chunks.numDeletedRows)
      stats.logs += Number(logs.numUpdatedRows)
    })
  }

  /** Finished logs of finished builds, oldest first, not yet pruned. */
  const prunableLogs = (before?: number) => {
    let q = deps.db().k.selectFrom('logs as l').innerJoin('steps as s', 's.stepid', 'l.stepid').innerJoin('builds as b', 'b.buildid', 's.buildid')
      .select('l.logid').where('l.type', '!=', 'd').where('l.complete', '=', 1).where('b.complete_at', 'is not', null)
    if (before != null) q = q.where('b.complete_at', '<', before)
    return q.orderBy('l.logid').limit(BATCH)
  }

  async function pruneOldBuilds(days: number, stats: PruneStats) {
    const cutoff = Math.floor(now() / 1000) - days * DAY_S
    for (;;) {
      if (stopped) return
      const ids = (await deps.db().k.selectFrom('builds').select('buildid').where('complete_at', 'is not', null)
        .where('complete_at', '<', cutoff).orderBy('buildid').limit(BATCH).execute()).map((r) => r.buildid)
      if (!ids.length) return
      await deps.db().k.transaction().execute(async (trx) => {
        const steps = trx.selectFrom('steps').select('stepid').where('buildid', 'in', ids)
        const logs = trx.selectFrom('logs').select('logid').where('stepid', 'in', steps)
        stats.logchunks += Number((await trx.deleteFrom('logchunks').where('logid', 'in', logs).executeTakeFirst()).numDeletedRows)
        stats.logs += Number((await trx.deleteFrom('logs').where('stepid', 'in', steps).executeTakeFirst()).numDeletedRows)
        stats.steps += Number((await trx.deleteFrom('steps').where('buildid', 'in', ids).executeTakeFirst()).numDeletedRows)
        // A build that finished in between (it cannot: complete_at is set once) is still checked.
        stats.builds += Number((await trx.deleteFrom('builds').where('buildid', 'in', ids).where('complete_at', 'is not', null).executeTakeFirst()).numDeletedRows)
      })
      await yieldLoop()
    }
  }

  async function pruneOldLogs(days: number, stats: PruneStats) {
    const cutoff = Math.floor(now() / 1000) - days * DAY_S
    for (;;) {
      if (stopped) return
      const ids = (await prunableLogs(cutoff).execute()).map((r) => r.logid)
      if (!ids.length) return
      await dropLogs(ids, stats)
      await yieldLoop()
    }
  }

  async function pruneLogsBySize(maxMB: number, stats: PruneStats) {
    const limit = maxMB * 1024 * 1024
    const total = async () => Number((await deps.db().k.selectFrom('logchunks').select(sql<number>`coalesce(sum(length(content)), 0)`.as('n')).executeTakeFirst())?.n ?? 0)
    let excess = await total() - limit
    while (excess > 0 && !stopped) {
      const ids = (await prunableLogs().execute()).map((r) => r.logid)
      if (!ids.length) return
      const sizes = await deps.db().k.selectFrom('logchunks').select(['logid', sql<number>`sum(length(content))`.as('n')])
        .where('logid', 'in', ids).groupBy('logid').execute()
      const size = new Map(sizes.map((r) => [r.logid, Number(r.n)]))
      const drop: number[] = []
      for (const id of ids) {
        if (excess <= 0) break
        drop.push(id)
        excess -= size.get(id) ?? 0
      }
      await dropLogs(drop, stats)
      await yieldLoop()
    }
  }

  async function pass(): Promise<PruneStats> {
    const stats: PruneStats = { logs: 0, logchunks: 0, builds: 0, steps: 0 }
    const cfg = deps.config()
    if (!cfg || stopped) return stats
    if (cfg.builds?.olderThanDays != null) await pruneOldBuilds(cfg.builds.olderThanDays, stats)
    if (cfg.logs?.olderThanDays != null) await pruneOldLogs(cfg.logs.olderThanDays, stats)
    if (cfg.logs?.maxTotalMB != null) await pruneLogsBySize(cfg.logs.maxTotalMB, stats)
    if (stats.logs || stats.builds) deps.log.info(stats, 'retention: pruned old logs and builds')
    return stats
  }

  function prune(): Promise<PruneStats> {
    const next = running.catch(() => undefined).then(pass)
    running = next.catch((err) => { deps.log.error({ err: String(err) }, 'retention: pruning failed'); return { logs: 0, logchunks: 0, builds: 0, steps: 0 } })
    return next
  }

  function schedule() {
    const minutes = deps.config()?.intervalMinutes ?? 60
    timer = setTimeout(() => { void prune().catch(() => {}).finally(() => { if (!stopped) schedule() }) }, minutes * 60_000)
    timer.unref()
  }

  return {
    start() {
      stopped = false
      void prune().catch(() => {})
      schedule()
    },
    prune,
    async stop() {
      stopped = true
      clearTimeout(timer)
      await running
    },
  }
}
