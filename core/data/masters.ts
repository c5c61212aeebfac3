import type { DataContext } from './context.ts'
import { bool } from './context.ts'
import type { MastersTable } from '../db/schema.ts'
import type { Selectable } from 'kysely'

export interface MasterEntity { masterid: number; name: string; active: boolean; last_active: number }
export const toMaster = (r: Selectable<MastersTable>): MasterEntity => ({ masterid: r.masterid, name: r.name, active: bool(r.active), last_active: Number(r.last_active) })

export function createMastersData(ctx: DataContext) {
  const { db, bus } = ctx
  return {
    /** Finds or creates this master's row and marks it active. */
    async masterActive(name: string): Promise<number> {
      const now = ctx.now()
      const row = await db.k.selectFrom('masters').selectAll().where('name', '=', name).executeTakeFirst()
      let id: number
      if (row) {
        id = row.masterid
        await db.k.updateTable('masters').set({ active: 1, last_active: now }).where('masterid', '=', id).execute()
      } else {
        id = (await db.k.insertInto('masters').values({ name, active: 1, last_active: now }).returning('masterid').executeTakeFirstOrThrow()).masterid
      }
      bus.publish(['masters', String(id), 'started'], { masterid: id, name, active: true })
      return id
    },
    async masterStopped(id: number): Promise<void> {
      await db.k.updateTable('masters').set({ active: 0 }).where('masterid', '=', id).execute()
      await db.k.deleteFrom('connected_workers').where('masterid', '=', id).execute()
      const row = await db.k.selectFrom('masters').select('name').where('masterid', '=', id).executeTakeFirst()
      bus.publish(['masters', String(id), 'stopped'], { masterid: id, name: row?.name ?? '', active: false })
    },
    /** The heartbeat: this master is alive (active again if another master had expired it). */
    async touch(id: number): Promise<void> {
      await db.k.updateTable('masters').set({ last_active: ctx.now(), active: 1 }).where('masterid', '=', id).execute()
    },
  }
}
