import type { Selectable } from 'kysely'
import type { WorkersTable } from '../db/schema.ts'
import type { DataContext } from './context.ts'
import { bool, parseJson } from './context.ts'

export interface WorkerEntity {
  workerid: number; name: string; connected_to: { masterid: number }[]; configured_on: { masterid: number; builderid: number }[]
  workerinfo: Record<string, unknown>; paused: boolean; pause_reason: string | null; graceful: boolean
}

export const toWorker = (r: Selectable<WorkersTable>, connected_to: { masterid: number }[], configured_on: { masterid: number; builderid: number }[]): WorkerEntity => ({
  workerid: r.workerid, name: r.name, connected_to, configured_on, workerinfo: parseJson(r.info, {}),
  paused: bool(r.paused), pause_reason: r.pause_reason, graceful: bool(r.graceful),
})

export function createWorkersData(ctx: DataContext) {
  const { db, bus } = ctx

  async function entity(workerid: number): Promise<WorkerEntity | undefined> {
    const row = await db.k.selectFrom('workers').selectAll().where('workerid', '=', workerid).executeTakeFirst()
    if (!row) return undefined
    const conn = await db.k.selectFrom('connected_workers').select('masterid').where('workerid', '=', workerid).execute()
    const conf = await db.k.selectFrom('configured_workers').select(['masterid', 'builderid']).where('workerid', '=', workerid).execute()
    return toWorker(row, conn, conf)
  }
  const publish = async (workerid: number, event: string) => {
    const e = await entity(workerid)
    if (e) bus.publish(['workers', String(workerid), event], e)
  }

  return {
    entity,
    async findWorkerId(name: string): Promise<number> {
      const row = await db.k.selectFrom('workers').select('workerid').where('name', '=', name).executeTakeFirst()
      if (row) return row.workerid
      return (await db.k.insertInto('workers').values({ name, info: '{}', paused: 0, pause_reason: null, graceful: 0 }).returning('workerid').executeTakeFirstOrThrow()).workerid
    },
    async workerConnected(workerid: number, info: Record<string, unknown>): Promise<void> {
      const masterid = ctx.masterid()
      const workerinfo = { admin: info.admin ?? null, host: info.host ?? null, access_uri: info.access_uri ?? null, version: info.version ?? null }
      await db.k.updateTable('workers').set({ info: JSON.stringify(workerinfo), graceful: 0 }).where('workerid', '=', workerid).execute()
      await db.k.insertInto('connected_workers').values({ masterid, workerid }).onConflict((oc) => oc.columns(['masterid', 'workerid']).doNothing()).execute()
      await publish(workerid, 'connected')
    },
    async workerDisconnected(workerid: number): Promise<void> {
      await db.k.deleteFrom('connected_workers').where('workerid', '=', workerid).where('masterid', '=', ctx.masterid()).execute()
      await publish(workerid, 'disconnected')
    },
    async workerConfigured(workerid: number, builderids: number[]): Promise<void> {
      const masterid = ctx.masterid()
      await db.k.deleteFrom('configured_workers').where('workerid', '=', workerid).where('masterid', '=', masterid).execute()
      if (builderids.length) await db.k.insertInto('configured_workers').values(builderids.map((builderid) => ({ masterid, builderid, workerid }))).execute()
    },
    async setWorkerState(workerid: number, state: { paused?: boolean; graceful?: boolean; pause_reason?: string | null }): Promise<void> {
      const set: Partial<{ paused: number; graceful: number; pause_reason: string | null }> = {}
      if (state.paused != null) set.paused = state.paused ? 1 : 0
      if (state.graceful != null) set.graceful = state.graceful ? 1 : 0
      if (state.pause_reason !== undefined) set.pause_reason = state.pause_reason
      await db.k.updateTable('workers').set(set).where('workerid', '=', workerid).execute()
      await publish(workerid, 'state_updated')
    },
  }
}
