import type { Selectable } from 'kysely'
import type { BuildersTable } from '../db/schema.ts'
import type { DataContext } from './context.ts'
import { parseJson } from './context.ts'

export interface BuilderEntity {
  builderid: number; name: string; masterids: number[]; description: string | null
  description_format: string | null; description_html: string | null; projectid: number | null; tags: string[]
}
export const toBuilder = (r: Selectable<BuildersTable>, masterids: number[]): BuilderEntity => ({
  builderid: r.builderid, name: r.name, masterids, description: r.description, description_format: null,
  description_html: null, projectid: r.projectid, tags: parseJson(r.tags, []),
})

export function createBuildersData(ctx: DataContext) {
  const { db, bus } = ctx
  return {
    async findBuilderId(name: string): Promise<number> {
      const row = await db.k.selectFrom('builders').select('builderid').where('name', '=', name).executeTakeFirst()
      if (row) return row.builderid
      return (await db.k.insertInto('builders').values({ name, description: null, projectid: null, tags: '[]' }).returning('builderid').executeTakeFirstOrThrow()).builderid
    },
    async updateBuilderInfo(builderid: number, info: { description: string | null; projectid: number | null; tags: string[] }): Promise<void> {
      const row = await db.k.selectFrom('builders').selectAll().where('builderid', '=', builderid).executeTakeFirstOrThrow()
      const tags = JSON.stringify(info.tags)
      if (row.description === info.description && row.projectid === info.projectid && row.tags === tags) return
      await db.k.updateTable('builders').set({ description: info.description, projectid: info.projectid, tags }).where('builderid', '=', builderid).execute()
      const masters = await db.k.selectFrom('builder_masters').select('masterid').where('builderid', '=', builderid).execute()
      bus.publish(['builders', String(builderid), 'update'], toBuilder({ ...row, ...info, tags }, masters.map((m) => m.masterid)))
    },
    /** Records which builders this master runs now (Buildbot's updateBuilderList). */
    async updateBuilderList(masterid: number, builderids: number[]): Promise<void> {
      const current = await db.k.selectFrom('builder_masters').select('builderid').where('masterid', '=', masterid).execute()
      const have = new Set(current.map((r) => r.builderid))
      const want = new Set(builderids)
      for (const id of have) {
        if (want.has(id)) continue
        await db.k.deleteFrom('builder_masters').where('masterid', '=', masterid).where('builderid', '=', id).execute()
        bus.publish(['builders', String(id), 'stopped'], { builderid: id, masterid })
      }
      for (const id of want) {
        if (have.has(id)) continue
        await db.k.insertInto('builder_masters').values({ builderid: id, masterid }).execute()
        bus.publish(['builders', String(id), 'started'], { builderid: id, masterid })
      }
    },
  }
}
