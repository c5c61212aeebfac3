import type { Selectable } from 'kysely'
import type { BuildsTable } from '../db/schema.ts'
import type { DataContext } from './context.ts'
import { parseJson } from './context.ts'
import type { Properties } from './buildsets.ts'

export interface BuildEntity {
  buildid: number; number: number; builderid: number; buildrequestid: number; workerid: number | null
  masterid: number; started_at: number; complete_at: number | null; complete: boolean; locks_duration_s: number
  state_string: string; results: number | null; properties: Properties
}
export const toBuild = (r: Selectable<BuildsTable>, withProps?: (p: Properties) => Properties): BuildEntity => ({
  buildid: r.buildid, number: r.number, builderid: r.builderid, buildrequestid: r.buildrequestid, workerid: r.workerid,
  masterid: r.masterid, started_at: Number(r.started_at), complete_at: r.complete_at == null ? null : Number(r.complete_at),
  complete: r.complete_at != null, locks_duration_s: 0, state_string: r.state_string, results: r.results,
  properties: withProps ? withProps(parseJson(r.properties, {})) : {},
})

export function buildKeys(b: { buildid: number; builderid: number; number: number; workerid: number | null }): string[][] {
  const keys = [['builders', String(b.builderid), 'builds', String(b.number)], ['builds', String(b.buildid)]]
  if (b.workerid != null) keys.push(['workers', String(b.workerid), 'builds', String(b.buildid)])
  return keys
}

export function createBuildsData(ctx: DataContext) {
  const { db, bus } = ctx
  const nextNumber = new Map<number, number>()
  /** Rows of builds this master is running, so updates publish without a read. */
  const live = new Map<number, Selectable<BuildsTable>>()
  const publish = (row: Selectable<BuildsTable>, event: string) => {
    const e = toBuild(row)
    for (const k of buildKeys(e)) bus.publish([...k, event], e)
  }

  async function number(builderid: number, reload = false): Promise<number> {
    let n = nextNumber.get(builderid)
    if (n == null || reload) {
      const row = await db.k.selectFrom('builds').select((eb) => eb.fn.max('number').as('m')).where('builderid', '=', builderid).executeTakeFirst()
      n = Number(row?.m ?? 0) + 1
    }
    nextNumber.set(builderid, n + 1)
    return n
  }

  return {
    async addBuild(spec: { builderid: number; buildrequestid: number; workerid: number | null; state_string: string; properties?: Properties }): Promise<BuildEntity> {
      let row: Selectable<BuildsTable> | undefined
      for (let attempt = 0; !row; attempt++) {
        const n = await number(spec.builderid, attempt > 0)
        // Every build has its number as a property (as in Buildbot); set with the row, not after.
        const values = {
          number: n, builderid: spec.builderid, buildrequestid: spec.buildrequestid,
          workerid: spec.workerid, masterid: ctx.masterid(), started_at: ctx.now(), complete_at: null,
          state_string: spec.state_string, results: null, properties: JSON.stringify({ ...spec.properties, buildnumber: [n, 'Build'] }),
        }
        try {
          row = await db.k.insertInto('builds').values(values).returningAll().executeTakeFirstOrThrow()
        } catch (err) {
          if (attempt > 3) throw err
        }
      }
      live.set(row.buildid, row)
      publish(row, 'new')
      return toBuild(row)
    },
    async setBuildStateString(buildid: number, state_string: string): Promise<void> {
      await db.k.updateTable('builds').set({ state_string }).where('buildid', '=', buildid).execute()
      const row = live.get(buildid) ?? await db.k.selectFrom('builds').selectAll().where('buildid', '=', buildid).executeTakeFirst()
      if (!row) return
      row.state_string = state_string
      publish(row, 'update')
    },
    /** Completes a build; `state_string` (optional) is its final text, written in the same update. */
    async finishBuild(buildid: number, results: number, state_string?: string): Promise<BuildEntity | undefined> {
      const complete_at = ctx.now()
      const set = state_string == null ? { complete_at, results } : { complete_at, results, state_string }
      const row = live.get(buildid) ?? await db.k.selectFrom('builds').selectAll().where('buildid', '=', buildid).executeTakeFirst()
      await db.k.updateTable('builds').set(set).where('buildid', '=', buildid).execute()
      live.delete(buildid)
      if (!row) return undefined
      // As Buildbot: a new state string is its own `update` event, before `finished`.
      if (state_string != null && state_string !== row.state_string) {
        row.state_string = state_string
        publish(row, 'update')
      }
      Object.assign(row, set)
      publish(row, 'finished')
      return toBuild(row)
    },
    /** Merges properties into the build and publishes only the changed ones. */
    async setBuildProperties(buildid: number, props: Properties): Promise<void> {
      const cached = live.get(buildid)
      const current: Properties = parseJson((cached ?? await db.k.selectFrom('builds').select('properties').where('buildid', '=', buildid).executeTakeFirst())?.properties, {})
      const changed: Properties = {}
      for (const [k, v] of Object.entries(props)) {
        if (JSON.stringify(current[k]) === JSON.stringify(v)) continue
        current[k] = v
        changed[k] = v
      }
      if (!Object.keys(changed).length) return
      const json = JSON.stringify(current)
      await db.k.updateTable('builds').set({ properties: json }).where('buildid', '=', buildid).execute()
      if (cached) cached.properties = json
      bus.publish(['builds', String(buildid), 'properties', 'update'], changed)
    },
    async getBuild(buildid: number): Promise<BuildEntity | undefined> {
      const row = await db.k.selectFrom('builds').selectAll().where('buildid', '=', buildid).executeTakeFirst()
      return row ? toBuild(row, (p) => p) : undefined
    },
  }
}
