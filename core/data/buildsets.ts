import { sql, type Selectable } from 'kysely'
import type { BuildrequestsTable, BuildsetsTable } from '../db/schema.ts'
import type { DataContext } from './context.ts'
import { bool, parseJson } from './context.ts'
import type { SourceStampEntity, SourceStampSpec } from './sourcestamps.ts'
import { createSourceStampsData, toSourceStamp } from './sourcestamps.ts'
import { buildRequestKeys, toBuildRequest } from './buildrequests.ts'

export type Properties = Record<string, [unknown, string]>

export interface BuildsetSpec {
  reason: string
  sourcestamps: (SourceStampSpec | number)[]
  builderids: number[]
  properties?: Properties
  scheduler?: string
  external_idstring?: string | null
  parent_buildid?: number | null
  parent_relationship?: string | null
  rebuilt_buildid?: number | null
  priority?: number
  waited_for?: boolean
  /**
   * Whether the buildset's builds may read secrets. Schedulers decide (see SchedulerSpec.trusted);
   * triggered buildsets and rebuilds take their parent's or original's. Default: trusted.
   */
  trusted?: boolean
}
export interface BuildsetEntity {
  bsid: number; external_idstring: string | null; reason: string; rebuilt_buildid: number | null; submitted_at: number
  complete: boolean; complete_at: number | null; results: number; sourcestamps: SourceStampEntity[]
  parent_buildid: number | null; parent_relationship: string | null
  /** Whether its builds may read secrets. */
  trusted: boolean
}
export interface AddedBuildset { bsid: number; brids: Record<number, number> }

export const toBuildset = (r: Selectable<BuildsetsTable>, sourcestamps: SourceStampEntity[]): BuildsetEntity => ({
  bsid: r.bsid, external_idstring: r.external_idstring, reason: r.reason, rebuilt_buildid: r.rebuilt_buildid,
  submitted_at: Number(r.submitted_at), complete: bool(r.complete), complete_at: r.complete_at == null ? null : Number(r.complete_at),
  results: r.results, sourcestamps, parent_buildid: r.parent_buildid, parent_relationship: r.parent_relationship,
  trusted: bool(r.trusted),
})

export function createBuildsetsData(ctx: DataContext) {
  const { db, bus } = ctx
  const ss = createSourceStampsData(ctx)

  /** Source stamps of buildsets, in the order they were added (one query). */
  /**
   * A buildset's source stamps never change once added, so those of recent buildsets are kept
   * (bounded): starting and completing a build then need no lookup.
   */
  const recentStamps = new Map<number, SourceStampEntity[]>()
  const remember = (bsid: number, stamps: SourceStampEntity[]) => {
    recentStamps.set(bsid, stamps)
    if (recentStamps.size > 5000) recentStamps.delete(recentStamps.keys().next().value!)
  }

  /** Source stamps of buildsets, in the order they were added (at most one query). */
  async function stampsOf(bsids: number[]): Promise<Map<number, SourceStampEntity[]>> {
    const out = new Map<number, SourceStampEntity[]>()
    const missing = bsids.filter((id) => { const c = recentStamps.get(id); if (c) out.set(id, c); return !c })
    if (!missing.length) return out
    const rows = await db.k.selectFrom('buildset_sourcestamps').innerJoin('sourcestamps', 'sourcestamps.ssid', 'buildset_sourcestamps.sourcestampid')
      .selectAll('sourcestamps').select('buildset_sourcestamps.buildsetid').where('buildset_sourcestamps.buildsetid', 'in', missing)
      .orderBy('buildset_sourcestamps.id').execute()
    for (const { buildsetid, ...r } of rows) {
      const list = out.get(buildsetid) ?? []
      list.push(toSourceStamp(r))
      out.set(buildsetid, list)
    }
    return out
  }

  return {
    /**
     * Adds buildsets with one buildrequest per builder, all in one transaction, then publishes
     * `buildsets/N/new` and `buildrequests/.../new` for each. Many at once is how a fan-out stays fast.
     */
    async addBuildsets(specs: BuildsetSpec[]): Promise<AddedBuildset[]> {
      const now = ctx.now()
      const ssidCache = new Map<string, number>()
      const known = new Map<number, SourceStampEntity>()
      const resolved: number[][] = []
      for (const spec of specs) {
        const ids: number[] = []
        for (const s of spec.sourcestamps) {
          if (typeof s === 'number') { ids.push(s); continue }
          const key = JSON.stringify(s)
          let id = ssidCache.get(key)
          if (id == null) {
            const stamp = await ss.findSourceStamp(s)
            known.set((id = stamp.ssid), stamp)
            ssidCache.set(key, id)
          }
          ids.push(id)
        }
        resolved.push(ids)
      }
      // Multi-row inserts, a few hundred rows per statement: a 1,000-child fan-out is a handful
      // of round trips, not thousands. Ids of one INSERT are assigned in VALUES order, so sorting
      // the returned rows by id pairs them with their specs.
      const CHUNK = 400
      const added = await db.k.transaction().execute(async (trx) => {
        const out: { bs: Selectable<BuildsetsTable>; brs: Selectable<BuildrequestsTable>[] }[] = []
        for (let at = 0; at < specs.length; at += CHUNK) {
          const part = specs.slice(at, at + CHUNK)
          const sets = (await trx.insertInto('buildsets').values(part.map((spec) => {
            const props: Properties = { ...(spec.properties ?? {}) }
            if (spec.scheduler && !props.scheduler) props.scheduler = [spec.scheduler, 'Scheduler']
            return {
              external_idstring: spec.external_idstring ?? null, reason: spec.reason, submitted_at: now, complete: 0,
              complete_at: null, results: -1, parent_buildid: spec.parent_buildid ?? null,
              parent_relationship: spec.parent_relationship ?? null, rebuilt_buildid: spec.rebuilt_buildid ?? null,
              scheduler: spec.scheduler ?? null, properties: JSON.stringify(props), trusted: spec.trusted === false ? 0 : 1,
            }
          })).returningAll().execute()).sort((a, b) => a.bsid - b.bsid)
          const links = sets.flatMap((bs, j) => resolved[at + j]!.map((sourcestampid) => ({ buildsetid: bs.bsid, sourcestampid })))
          for (let i = 0; i < links.length; i += CHUNK) await trx.insertInto('buildset_sourcestamps').values(links.slice(i, i + CHUNK)).execute()
          const reqs = sets.flatMap((bs, j) => {
            const spec = part[j]!
            return spec.builderids.map((builderid) => ({
              buildsetid: bs.bsid, builderid, priority: spec.priority ?? 0, complete: 0, results: -1, submitted_at: now,
              complete_at: null, waited_for: spec.waited_for ? 1 : 0,
            }))
          })
          const brsBySet = new Map<number, Selectable<BuildrequestsTable>[]>()
          for (let i = 0; i < reqs.length; i += CHUNK) {
            for (const br of (await trx.insertInto('buildrequests').values(reqs.slice(i, i + CHUNK)).returningAll().execute()).sort((a, b) => a.buildrequestid - b.buildrequestid)) {
              const list = brsBySet.get(br.buildsetid) ?? []
              list.push(br)
              brsBySet.set(br.buildsetid, list)
            }
          }
          for (const bs of sets) out.push({ bs, brs: brsBySet.get(bs.bsid) ?? [] })
        }
        return out
      })
      const byId = new Map(known)
      for (const s of await ss.getSourceStamps([...new Set(resolved.flat())].filter((id) => !known.has(id)))) byId.set(s.ssid, s)
      return added.map(({ bs, brs }, i) => {
        const sourcestamps = resolved[i]!.map((id) => byId.get(id)!)
        remember(bs.bsid, sourcestamps)
        // The requests first, then the buildset, as Buildbot does (so a listener knows a new
        // buildset's builders when it sees it: `/ws` hides private projects' buildsets by them).
        const brids: Record<number, number> = {}
        for (const br of brs) {
          brids[br.builderid] = br.buildrequestid
          const e = toBuildRequest(br)
          for (const k of buildRequestKeys(e)) bus.publish([...k, 'new'], e)
        }
        bus.publish(['buildsets', String(bs.bsid), 'new'], {
          bsid: bs.bsid, external_idstring: bs.external_idstring, reason: bs.reason, parent_buildid: bs.parent_buildid,
          rebuilt_buildid: bs.rebuilt_buildid, submitted_at: now, complete: false, complete_at: null, results: null,
          scheduler: bs.scheduler, sourcestamps, trusted: bool(bs.trusted),
        })
        return { bsid: bs.bsid, brids }
      })
    },

    /** Marks buildsets complete once all their requests are; results = the worst of them. */
    async maybeCompleteBuildsets(bsids: number[]): Promise<void> {
      for (const bsid of bsids) {
        // One statement: complete it only if no request is left, with the worst result of them
        // (Buildbot's order: CANCELLED > RETRY > EXCEPTION > FAILURE > WARNINGS > SUCCESS > SKIPPED).
        const row = await db.k.updateTable('buildsets').set({
          complete: 1, complete_at: ctx.now(),
          // Severities 0..6, folded from SUCCESS as Buildbot does (all SKIPPED, or none, is SUCCESS).
          results: sql<number>`(select case max(sev) when 6 then 6 when 5 then 5 when 4 then 4 when 3 then 2 when 2 then 1 else 0 end
            from (select case results when 6 then 6 when 5 then 5 when 4 then 4 when 2 then 3 when 1 then 2 when 0 then 1 else 0 end as sev
              from buildrequests where buildsetid = ${bsid} union all select 1 as sev) severities)`,
        }).where('bsid', '=', bsid).where('complete', '=', 0)
          .where(({ not, exists, selectFrom }) => not(exists(selectFrom('buildrequests').select('buildrequestid').where('buildsetid', '=', bsid).where('complete', '=', 0))))
          .returningAll().executeTakeFirst()
        if (!row) continue
        const e = toBuildset(row, (await stampsOf([bsid])).get(bsid) ?? [])
        bus.publish(['buildsets', String(bsid), 'complete'], e)
      }
    },

    async getBuildset(bsid: number): Promise<(BuildsetEntity & { properties: Properties; scheduler: string | null }) | undefined> {
      const row = await db.k.selectFrom('buildsets').selectAll().where('bsid', '=', bsid).executeTakeFirst()
      if (!row) return undefined
      return { ...toBuildset(row, (await stampsOf([bsid])).get(bsid) ?? []), properties: parseJson(row.properties, {}), scheduler: row.scheduler }
    },
    /** The results of those of `bsids` that are complete (read in chunks of 500). */
    async completedResults(bsids: number[]): Promise<{ bsid: number; results: number }[]> {
      const out: { bsid: number; results: number }[] = []
      for (let i = 0; i < bsids.length; i += 500) {
        const rows = await db.k.selectFrom('buildsets').select(['bsid', 'results']).where('bsid', 'in', bsids.slice(i, i + 500)).where('complete', '=', 1).execute()
        for (const r of rows) out.push({ bsid: r.bsid, results: r.results })
      }
      return out
    },
    /** Ids of the buildsets a build triggered that have not completed yet. */
    async incompleteChildBuildsets(parentBuildid: number): Promise<number[]> {
      const rows = await db.k.selectFrom('buildsets').select('bsid').where('parent_buildid', '=', parentBuildid).where('complete', '=', 0).orderBy('bsid').execute()
      return rows.map((r) => r.bsid)
    },
    stampsOf,
  }
}
