import type { Data } from '../data/data.ts'
import { CANCELLED } from '../util/results.ts'
import { ForceValidationError, HttpError, type BuildsetResult, type ForceSchedulerSpec, type MasterControl } from './master-surface.ts'

/**
 * Test fixture: a small real MasterControl on top of the data layer, for HTTP tests without a
 * master. Force adds a buildset, stop finishes the build CANCELLED, rebuild copies the buildset,
 * cancel completes the request CANCELLED, worker actions set worker state.
 */
export class TestControl implements MasterControl {
  readonly calls: { action: string; args: unknown[] }[] = []
  constructor(private readonly data: Data, private readonly schedulers: ForceSchedulerSpec[] = []) {}

  forceSchedulers(): ForceSchedulerSpec[] { return this.schedulers }

  async force(schedulerName: string, params: Record<string, unknown>, owner: string): Promise<BuildsetResult> {
    this.calls.push({ action: 'force', args: [schedulerName, params, owner] })
    const fs = this.schedulers.find((s) => s.name === schedulerName)
    if (!fs) throw new HttpError(404, `no such force scheduler '${schedulerName}'`)
    const reason = typeof params.reason === 'string' ? params.reason : 'force build'
    if (reason === '') throw new ForceValidationError({ reason: 'must not be empty' })
    let names = fs.builder_names
    if (Array.isArray(params.builderNames)) names = params.builderNames.map(String)
    else if (params.builderid != null) {
      const row = await this.data.db.k.selectFrom('builders').select('name').where('builderid', '=', Number(params.builderid)).executeTakeFirst()
      names = row ? [row.name] : []
    }
    if (!names.length || names.some((n) => !fs.builder_names.includes(n))) throw new Error('builderNames not specified or not supported')
    const builderids = await Promise.all(names.map((n) => this.data.builders.findBuilderId(n)))
    const [added] = await this.data.buildsets.addBuildsets([{
      reason, builderids, scheduler: schedulerName, sourcestamps: [{ branch: typeof params.branch === 'string' ? params.branch : null, repository: '', project: '', codebase: '' }],
      properties: { owner: [owner, 'Force Build Form'], reason: [reason, 'Force Build Form'] },
    }])
    return [added!.bsid, Object.fromEntries(Object.entries(added!.brids).map(([b, r]) => [String(b), r]))]
  }

  async stopBuild(buildid: number, reason: string): Promise<void> {
    this.calls.push({ action: 'stop', args: [buildid, reason] })
    const b = await this.data.builds.getBuild(buildid)
    if (!b || b.complete) return
    await this.data.builds.finishBuild(buildid, CANCELLED)
  }

  async rebuild(buildid: number, owner: string): Promise<BuildsetResult> {
    this.calls.push({ action: 'rebuild', args: [buildid, owner] })
    const b = await this.data.builds.getBuild(buildid)
    if (!b) throw new HttpError(404, 'no such build')
    const br = (await this.data.buildrequests.load([b.buildrequestid]))[0]!
    const bs = (await this.data.buildsets.getBuildset(br.buildsetid))!
    const [added] = await this.data.buildsets.addBuildsets([{
      reason: 'rebuild', builderids: [b.builderid], scheduler: 'rebuild', rebuilt_buildid: buildid,
      sourcestamps: bs.sourcestamps.map((s) => s.ssid), properties: { ...bs.properties, owner: [owner, 'Rebuild'] },
      trusted: bs.trusted,
    }])
    return [added!.bsid, Object.fromEntries(Object.entries(added!.brids).map(([k, v]) => [String(k), v]))]
  }

  async cancelBuildRequest(buildrequestid: number, reason: string): Promise<void> {
    this.calls.push({ action: 'cancel', args: [buildrequestid, reason] })
    await this.data.buildrequests.completeBuildRequests([buildrequestid], CANCELLED)
  }

  async setBuildRequestPriority(buildrequestid: number, priority: number): Promise<void> {
    this.calls.push({ action: 'set_priority', args: [buildrequestid, priority] })
    await this.data.buildrequests.setPriority(buildrequestid, priority)
  }

  async enableScheduler(schedulerid: number, enabled: boolean): Promise<void> {
    this.calls.push({ action: 'enable', args: [schedulerid, enabled] })
    await this.data.schedulers.setSchedulerEnabled(schedulerid, enabled)
  }

  async workerAction(workerid: number, action: 'stop' | 'pause' | 'unpause' | 'kill', reason: string): Promise<void> {
    this.calls.push({ action: `worker-${action}`, args: [workerid, reason] })
    if (action === 'pause' || action === 'unpause') await this.data.workers.setWorkerState(workerid, { paused: action === 'pause', pause_reason: action === 'pause' ? reason : null })
    else if (action === 'stop') await this.data.workers.setWorkerState(workerid, { graceful: true })
  }
}
