import type { Data } from './data/data.ts'
import type { BuildRequestDistributor } from './process/build-request-distributor.ts'
import type { WorkerManager } from './workers/worker-manager.ts'
import { HttpError, type BuildsetResult, type ForceSchedulerSpec, type MasterControl } from './http/master-surface.ts'
import { forceFieldSpecs } from './schedulers/force-parameters.ts'
import type { ForceRuntime, ForceSchedulerOptions } from './schedulers/force.ts'
import type { SchedulerHost } from './scheduler-host.ts'
import { parseIntId } from './util/int-range.ts'

const asResult = (r: { bsid: number; brids: Record<number, number> }): BuildsetResult => {
  const brids: Record<string, number> = {}
  for (const [k, v] of Object.entries(r.brids)) brids[String(k)] = v
  return [r.bsid, brids]
}

/** The master's answers to control calls (JSON-RPC), on top of the data layer and the engine. */
export function createMasterControl(deps: { data: Data; brd: BuildRequestDistributor; workers: WorkerManager; schedulers: SchedulerHost }): MasterControl {
  const { data, brd, workers, schedulers } = deps
  const scheduler = (name: string) => {
    const s = schedulers.forceSchedulers().find((f) => f.spec.name === name)
    if (!s) throw new HttpError(404, `no force scheduler named '${name}'`)
    return s
  }
  function forceTargets(name: string, params: Record<string, unknown>): string[] {
    const own = scheduler(name).spec.builderNames
    const names = params.builderNames
    if (names != null) {
      if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) throw new HttpError(400, "'builderNames' must be a list of builder names")
      // Buildbot reads an empty list as "all the scheduler's builders"; so does authorisation.
      if (!names.length) return [...own]
      const unknown = names.filter((n) => !own.includes(n))
      if (unknown.length) throw new HttpError(400, `builderNames not specified or not supported: ${unknown.join(', ')}`)
      return [...new Set(names as string[])]
    }
    if (params.builderid != null) {
      const id = parseIntId(params.builderid)
      const b = id == null ? undefined : brd.builders.get(id)
      if (!b || !own.includes(b.config.name)) throw new HttpError(400, 'builderNames not specified or not supported')
      return [b.config.name]
    }
    return [...own]
  }
  return {
    forceSchedulers(): ForceSchedulerSpec[] {
      return schedulers.forceSchedulers().map(({ spec }) => {
        const o = (spec as unknown as { force: ForceSchedulerOptions }).force
        return { name: spec.name, button_name: o.buttonName ?? 'Start Build', label: o.label ?? spec.name, builder_names: spec.builderNames, enabled: true, all_fields: forceFieldSpecs(o.params ?? {}) }
      })
    },
    forceTargets,
    async force(name, params, owner) {
      const builderNames = forceTargets(name, params)
      const rt = scheduler(name).runtime as unknown as ForceRuntime
      return asResult(await rt.force({ ...params, builderNames }, owner))
    },
    async stopBuild(buildid, reason) {
      // Right after `builds/N/new` the build may not know its id yet; its request identifies it.
      let build = brd.findBuild(buildid)
      if (!build) {
        const row = await data.builds.getBuild(buildid)
        if (row && !row.complete) build = brd.findBuildByRequest(row.buildrequestid)
      }
      build?.stop(reason || 'stopped by a user')
    },
    async rebuild(buildid, owner) {
      const build = await data.builds.getBuild(buildid)
      if (!build) throw new HttpError(404, `no build with id ${buildid}`)
      const br = (await data.buildrequests.load([build.buildrequestid]))[0]
      const bs = br && await data.buildsets.getBuildset(br.buildsetid)
      if (!bs) throw new HttpError(404, `build ${buildid} has no buildset`)
      const props = { ...bs.properties, owner: [owner, 'rebuild'] as [unknown, string] }
      const [added] = await data.buildsets.addBuildsets([{
        reason: 'rebuild', sourcestamps: bs.sourcestamps.map((s) => s.ssid), builderids: [build.builderid], properties: props,
        scheduler: 'rebuild', rebuilt_buildid: buildid, parent_buildid: bs.parent_buildid, parent_relationship: bs.parent_relationship,
        // A rebuild runs the same source again: it keeps the original's trust.
        trusted: bs.trusted,
      }])
      return asResult(added!)
    },
    async cancelBuildRequest(brid, reason) {
      await brd.cancelRequests([brid], reason || 'cancelled by a user')
    },
    async setBuildRequestPriority(brid, priority) {
      if (await data.buildrequests.setPriority(brid, priority)) return
      const row = (await data.buildrequests.load([brid]))[0]
      if (!row) throw new HttpError(404, `no buildrequest with id ${brid}`)
      throw new HttpError(409, `buildrequest ${brid} is complete; its priority can no longer change`)
    },
    async enableScheduler(schedulerid, enabled) {
      await data.schedulers.setSchedulerEnabled(schedulerid, enabled)
    },
    async workerAction(workerid, action, reason) {
      if (!workers.byId(workerid)) throw new HttpError(404, `no worker with id ${workerid} is configured on this master`)
      await workers.action(workerid, action, reason)
    },
  }
}
