import type { DataContext } from './context.ts'

/** Persistent per-object state (Buildbot's object_state): poller revisions, timers, plugin state. */
export function createStateData(ctx: DataContext) {
  const { db } = ctx
  async function objectId(name: string, className: string): Promise<number> {
    const row = await db.k.selectFrom('objects').select('objectid').where('name', '=', name).where('class_name', '=', className).executeTakeFirst()
    if (row) return row.objectid
    return (await db.k.insertInto('objects').values({ name, class_name: className }).returning('objectid').executeTakeFirstOrThrow()).objectid
  }
  return {
    objectId,
    async getState<T>(objectid: number, name: string, fallback: T): Promise<T> {
      const row = await db.k.selectFrom('object_state').select('value_json').where('objectid', '=', objectid).where('name', '=', name).executeTakeFirst()
      return row ? (JSON.parse(row.value_json) as T) : fallback
    },
    async setState(objectid: number, name: string, value: unknown): Promise<void> {
      const value_json = JSON.stringify(value)
      await db.k.insertInto('object_state').values({ objectid, name, value_json })
        .onConflict((oc) => oc.columns(['objectid', 'name']).doUpdateSet({ value_json })).execute()
    },
  }
}
