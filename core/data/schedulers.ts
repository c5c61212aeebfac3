import type { DataContext } from './context.ts'
import { bool } from './context.ts'

export interface SchedulerEntity { schedulerid: number; name: string; enabled: boolean; master: { masterid: number; name: string; active: boolean; last_active: number } | null }

export function createSchedulersData(ctx: DataContext) {
  const { db, bus } = ctx
  return {
    async findSchedulerId(name: string): Promise<number> {
      const row = await db.k.selectFrom('schedulers').select('schedulerid').where('name', '=', name).executeTakeFirst()
      if (row) return row.schedulerid
      return (await db.k.insertInto('schedulers').values({ name, enabled: 1 }).returning('schedulerid').executeTakeFirstOrThrow()).schedulerid
    },
    async setSchedulerMaster(schedulerid: number, masterid: number | null): Promise<void> {
      await db.k.deleteFrom('scheduler_masters').where('schedulerid', '=', schedulerid).execute()
      if (masterid != null) await db.k.insertInto('scheduler_masters').values({ schedulerid, masterid }).execute()
    },
    async setSchedulerEnabled(schedulerid: number, enabled: boolean): Promise<void> {
      await db.k.updateTable('schedulers').set({ enabled: enabled ? 1 : 0 }).where('schedulerid', '=', schedulerid).execute()
      const row = await db.k.selectFrom('schedulers').selectAll().where('schedulerid', '=', schedulerid).executeTakeFirstOrThrow()
      bus.publish(['schedulers', String(schedulerid), 'updated'], { schedulerid, name: row.name, enabled: bool(row.enabled), master: null })
    },
    async isEnabled(schedulerid: number): Promise<boolean> {
      const row = await db.k.selectFrom('schedulers').select('enabled').where('schedulerid', '=', schedulerid).executeTakeFirst()
      return row ? bool(row.enabled) : true
    },
    /** Changes a scheduler has classified but not yet built (survive restarts, for tree-stable timers). */
    async addClassifiedChange(schedulerid: number, changeid: number, important: boolean): Promise<void> {
      await db.k.insertInto('scheduler_changes').values({ schedulerid, changeid, important: important ? 1 : 0 })
        .onConflict((oc) => oc.columns(['schedulerid', 'changeid']).doNothing()).execute()
    },
    async getClassifiedChanges(schedulerid: number): Promise<{ changeid: number; important: boolean }[]> {
      const rows = await db.k.selectFrom('scheduler_changes').selectAll().where('schedulerid', '=', schedulerid).orderBy('changeid').execute()
      return rows.map((r) => ({ changeid: r.changeid, important: bool(r.important) }))
    },
    /**
     * Remembers a change no running scheduler wanted; rows older than `keepMs` go at the same
     * time, so the table holds minutes of changes, not history.
     */
    async addUnclaimedChange(changeid: number, nowMs: number, keepMs: number): Promise<void> {
      await db.k.deleteFrom('unclaimed_changes').where('at_ms', '<', nowMs - keepMs).execute()
      await db.k.insertInto('unclaimed_changes').values({ changeid, at_ms: nowMs }).onConflict((oc) => oc.column('changeid').doNothing()).execute()
    },
    /** Unclaimed changes that arrived at `sinceMs` or later, oldest first. */
    async getUnclaimedChanges(sinceMs: number): Promise<number[]> {
      return (await db.k.selectFrom('unclaimed_changes').select('changeid').where('at_ms', '>=', sinceMs).orderBy('changeid').execute()).map((r) => r.changeid)
    },
    /** Takes an unclaimed change; false when another scheduler (or master) took it first. */
    async claimUnclaimedChange(changeid: number): Promise<boolean> {
      return Number((await db.k.deleteFrom('unclaimed_changes').where('changeid', '=', changeid).executeTakeFirst()).numDeletedRows) > 0
    },
    async flushClassifiedChanges(schedulerid: number, changeids: number[]): Promise<void> {
      if (changeids.length) await db.k.deleteFrom('scheduler_changes').where('schedulerid', '=', schedulerid).where('changeid', 'in', changeids).execute()
    },
  }
}
