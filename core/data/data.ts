import type { Bus } from '../bus/bus.ts'
import type { Db } from '../db/connect.ts'
import type { DataContext } from './context.ts'
import { createMastersData } from './masters.ts'
import { createProjectsData } from './projects.ts'
import { createBuildersData } from './builders.ts'
import { createSourceStampsData } from './sourcestamps.ts'
import { createChangesData } from './changes.ts'
import { createBuildsetsData } from './buildsets.ts'
import { createBuildRequestsData } from './buildrequests.ts'
import { createBuildsData } from './builds.ts'
import { createStepsData } from './steps.ts'
import { createLogsData } from './logs.ts'
import { createWorkersData } from './workers.ts'
import { createSchedulersData } from './schedulers.ts'
import { createStateData } from './state.ts'
import { createStatusOutboxData } from './status-outbox.ts'
import { createDeliveriesData } from './deliveries.ts'
import { RETRY } from '../util/results.ts'

/**
 * The data layer: every write goes through one of these update methods, which write the
 * database and then publish on the bus with Buildbot's routing keys.
 */
export function createData(opts: { db: Db; bus: Bus; now?: () => number }) {
  let masterid = 0
  const ctx: DataContext = { db: opts.db, bus: opts.bus, now: opts.now ?? (() => Math.floor(Date.now() / 1000)), masterid: () => masterid }
  const buildsets = createBuildsetsData(ctx)
  const data = {
    ctx,
    db: opts.db,
    bus: opts.bus,
    get masterid() { return masterid },
    setMasterId(id: number) { masterid = id },
    masters: createMastersData(ctx),
    projects: createProjectsData(ctx),
    builders: createBuildersData(ctx),
    sourcestamps: createSourceStampsData(ctx),
    changes: createChangesData(ctx),
    buildsets,
    buildrequests: createBuildRequestsData(ctx, (bsids) => buildsets.maybeCompleteBuildsets(bsids)),
    builds: createBuildsData(ctx),
    steps: createStepsData(ctx),
    logs: createLogsData(ctx),
    workers: createWorkersData(ctx),
    schedulers: createSchedulersData(ctx),
    state: createStateData(ctx),
    /** Commit statuses waiting to be sent, and the last one sent of each (see status reporters). */
    statuses: createStatusOutboxData(ctx),
    /** Webhook delivery ids change hooks handled (a redelivery, after a restart too, stores nothing). */
    deliveries: createDeliveriesData(ctx),
    /**
     * Ends a build that cannot run on: its open logs and steps are closed (with `stepText`, since
     * their last progress text stopped being true), and it finishes with `results`.
     */
    async endBuild(buildid: number, results: number, text: string, stepText?: string): Promise<void> {
      const k = opts.db.k
      const steps = await k.selectFrom('steps').select('stepid').where('buildid', '=', buildid).where('complete_at', 'is', null).execute()
      for (const s of steps) {
        const logs = await k.selectFrom('logs').select('logid').where('stepid', '=', s.stepid).where('complete', '=', 0).execute()
        for (const l of logs) await data.logs.finishLog(l.logid)
        if (stepText) await data.steps.setStepStateString(s.stepid, stepText)
        await data.steps.finishStep(s.stepid, results)
      }
      await data.builds.finishBuild(buildid, results, text)
    },
    /**
     * After an unclean stop of this master: its unfinished builds end in RETRY (steps and logs
     * closed) and their requests are unclaimed, so they run again. Nothing queued is lost.
     */
    async recoverInterrupted(of: number = masterid): Promise<{ builds: number; requests: number }> {
      const k = opts.db.k
      const builds = await k.selectFrom('builds').select(['buildid', 'buildrequestid']).where('masterid', '=', of).where('complete_at', 'is', null).execute()
      for (const b of builds) await data.endBuild(b.buildid, RETRY, 'interrupted by a master restart (retry)', 'interrupted by a master restart')
      const claimed = await k.selectFrom('buildrequest_claims').innerJoin('buildrequests', 'buildrequests.buildrequestid', 'buildrequest_claims.brid')
        .select('brid').where('buildrequest_claims.masterid', '=', of).where('buildrequests.complete', '=', 0).execute()
      // A request whose build had already finished (the master died between the two writes) is
      // completed with that build's result: running it again would run it twice.
      const rerun: number[] = []
      for (const { brid } of claimed) {
        const last = await k.selectFrom('builds').select(['results']).where('buildrequestid', '=', brid).orderBy('buildid', 'desc').limit(1).executeTakeFirst()
        if (last && last.results != null && last.results !== RETRY) await data.buildrequests.completeBuildRequests([brid], last.results, { claimed: true })
        else rerun.push(brid)
      }
      await data.buildrequests.unclaimBuildRequests(rerun)
      return { builds: builds.length, requests: rerun.length }
    },
    /**
     * Other masters marked active that have not reported for `maxAgeSeconds` are dead (killed,
     * or restarted under another name, e.g. a new container host name): they are marked
     * stopped and their interrupted work is recovered as for this master after a crash.
     */
    async expireMasters(maxAgeSeconds: number): Promise<{ masterid: number; builds: number; requests: number }[]> {
      const k = opts.db.k
      const dead = await k.selectFrom('masters').select('masterid').where('active', '=', 1)
        .where('last_active', '<', ctx.now() - maxAgeSeconds).where('masterid', '!=', masterid).execute()
      const out = []
      for (const { masterid: id } of dead) {
        const upd = await k.updateTable('masters').set({ active: 0 }).where('masterid', '=', id).where('active', '=', 1).executeTakeFirst()
        if (Number(upd.numUpdatedRows) === 0) continue
        out.push({ masterid: id, ...await data.recoverInterrupted(id) })
        await data.masters.masterStopped(id)
      }
      return out
    },
  }
  return data
}

export type Data = ReturnType<typeof createData>
