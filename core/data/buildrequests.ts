import type { Selectable } from 'kysely'
import type { BuildrequestsTable } from '../db/schema.ts'
import type { DataContext } from './context.ts'
import { bool } from './context.ts'

export interface BuildRequestEntity {
  buildrequestid: number; buildsetid: number; builderid: number; priority: number; claimed: boolean
  claimed_at: number | null; claimed_by_masterid: number | null; complete: boolean; results: number
  submitted_at: number; complete_at: number | null; waited_for: boolean; properties: Record<string, [unknown, string]> | null
}
export type BuildRequestRow = Selectable<BuildrequestsTable> & { claimed_at?: number | null; claimed_by_masterid?: number | null }

export const toBuildRequest = (r: BuildRequestRow): BuildRequestEntity => ({
  buildrequestid: r.buildrequestid, buildsetid: r.buildsetid, builderid: r.builderid, priority: r.priority,
  claimed: r.claimed_at != null, claimed_at: r.claimed_at == null ? null : Number(r.claimed_at),
  claimed_by_masterid: r.claimed_by_masterid ?? null, complete: bool(r.complete), results: r.results,
  submitted_at: Number(r.submitted_at), complete_at: r.complete_at == null ? null : Number(r.complete_at),
  waited_for: bool(r.waited_for), properties: null,
})

export function buildRequestKeys(e: { buildrequestid: number; buildsetid: number; builderid: number }): string[][] {
  return [
    ['buildsets', String(e.buildsetid), 'builders', String(e.builderid), 'buildrequests', String(e.buildrequestid)],
    ['buildrequests', String(e.buildrequestid)],
    ['builders', String(e.builderid), 'buildrequests', String(e.buildrequestid)],
  ]
}

export function createBuildRequestsData(ctx: DataContext, onComplete: (buildsetids: number[]) => Promise<void>) {
  const { db, bus } = ctx
  const publish = (e: BuildRequestEntity, event: string) => { for (const k of buildRequestKeys(e)) bus.publish([...k, event], e) }

  async function load(brids: number[]): Promise<BuildRequestEntity[]> {
    if (!brids.length) return []
    const rows = await db.k.selectFrom('buildrequests').leftJoin('buildrequest_claims', 'buildrequest_claims.brid', 'buildrequests.buildrequestid')
      .selectAll('buildrequests').select(['buildrequest_claims.claimed_at', 'buildrequest_claims.masterid as claimed_by_masterid'])
      .where('buildrequestid', 'in', brids).execute()
    return rows.map(toBuildRequest)
  }

  return {
    load,
    /**
     * Claims requests for this master. Returns the ids actually claimed: a request another master
     * (or an earlier claim) holds is left out, so no request ever runs twice.
     */
    async claimBuildRequests(brids: number[]): Promise<number[]> {
      const masterid = ctx.masterid()
      const now = ctx.now()
      if (!brids.length) return []
      if (db.dialect === 'postgres') {
        // One round trip: the claims that went in, joined with their requests.
        const rows = await db.k.with('c', (q) => q.insertInto('buildrequest_claims').values(brids.map((brid) => ({ brid, masterid, claimed_at: now })))
          .onConflict((oc) => oc.column('brid').doNothing()).returning(['brid', 'masterid', 'claimed_at']))
          .selectFrom('buildrequests').innerJoin('c', 'c.brid', 'buildrequests.buildrequestid')
          .selectAll('buildrequests').select(['c.claimed_at', 'c.masterid as claimed_by_masterid']).execute()
        const got = rows.map(toBuildRequest)
        for (const e of got) publish(e, 'claimed')
        return got.map((e) => e.buildrequestid)
      }
      const got: number[] = []
      for (const brid of brids) {
        const res = await db.k.insertInto('buildrequest_claims').values({ brid, masterid, claimed_at: now })
          .onConflict((oc) => oc.column('brid').doNothing()).executeTakeFirst()
        if (Number(res.numInsertedOrUpdatedRows ?? 0) > 0) got.push(brid)
      }
      for (const e of await load(got)) publish(e, 'claimed')
      return got
    },
    async unclaimBuildRequests(brids: number[]): Promise<void> {
      if (!brids.length) return
      await db.k.deleteFrom('buildrequest_claims').where('brid', 'in', brids).execute()
      for (const e of await load(brids)) if (!e.complete) publish(e, 'unclaimed')
    },
    /**
     * Completes requests (claiming any unclaimed ones first, unless the caller holds the claims),
     * then completes finished buildsets.
     */
    async completeBuildRequests(brids: number[], results: number, opts: { claimed?: boolean } = {}): Promise<void> {
      if (!brids.length) return
      const now = ctx.now()
      const masterid = ctx.masterid()
      if (!opts.claimed) await db.k.insertInto('buildrequest_claims').values(brids.map((brid) => ({ brid, masterid, claimed_at: now })))
        .onConflict((oc) => oc.column('brid').doNothing()).execute()
      // Only requests this call completed are announced (and their buildsets checked).
      let done: BuildRequestEntity[]
      if (db.dialect === 'postgres') {
        done = (await db.k.with('u', (q) => q.updateTable('buildrequests').set({ complete: 1, results, complete_at: now })
          .where('buildrequestid', 'in', brids).where('complete', '=', 0).returningAll())
          .selectFrom('u').leftJoin('buildrequest_claims', 'buildrequest_claims.brid', 'u.buildrequestid')
          .selectAll('u').select(['buildrequest_claims.claimed_at', 'buildrequest_claims.masterid as claimed_by_masterid']).execute()).map(toBuildRequest)
      } else {
        const updated = await db.k.updateTable('buildrequests').set({ complete: 1, results, complete_at: now })
          .where('buildrequestid', 'in', brids).where('complete', '=', 0).returning('buildrequestid').execute()
        done = await load(updated.map((r) => r.buildrequestid))
      }
      for (const e of done) publish(e, 'complete')
      await onComplete([...new Set(done.map((e) => e.buildsetid))])
    },
    /** Changes the priority of a request that is not complete yet; false when there is no such request. */
    async setPriority(brid: number, priority: number): Promise<boolean> {
      const r = await db.k.updateTable('buildrequests').set({ priority }).where('buildrequestid', '=', brid).where('complete', '=', 0).executeTakeFirst()
      return Number(r.numUpdatedRows) > 0
    },
    /** Requests of these buildsets that are not complete yet. */
    async incompleteOfBuildsets(bsids: number[]): Promise<number[]> {
      const out: number[] = []
      for (let i = 0; i < bsids.length; i += 500) {
        const rows = await db.k.selectFrom('buildrequests').select('buildrequestid').where('buildsetid', 'in', bsids.slice(i, i + 500)).where('complete', '=', 0).execute()
        for (const r of rows) out.push(r.buildrequestid)
      }
      return out
    },
    publishCancel(e: BuildRequestEntity): void { bus.publish(['buildrequests', String(e.buildrequestid), 'cancel'], e) },
  }
}
