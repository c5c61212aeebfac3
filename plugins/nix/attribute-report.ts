import { SUCCESS, type Result } from '../../core/index.ts'
import type { StoredJob } from './jobs-store.ts'
import type { NixRuntime } from './nix-runtime.ts'
import { resultChange, type NixEvalInfo, type NixHooks, type NixPreviousResult } from './nix-hooks.ts'
import { defaultBranchResults } from './default-branch.ts'

/**
 * Tells the `attributeFinished` hooks about each finished attribute of one evaluation, beside its
 * result on the project's default branch (read once, when the first attribute finishes).
 */
export function createAttributeReport(runtime: NixRuntime, hooks: NixHooks, project: string, event: NixEvalInfo): (job: StoredJob) => Promise<void> {
  const { rt } = runtime
  let previous: Promise<Map<string, NixPreviousResult>> | undefined
  return async (job) => {
    if (!hooks.attributeFinished.size) return
    previous ??= defaultBranchResults(runtime, project).catch((err: Error) => {
      rt.log.warn({ project, err: err.message }, 'reading the default branch results failed')
      return new Map<string, NixPreviousResult>()
    })
    const prev = (await previous).get(job.attr) ?? null
    const attrUrl = job.child_builderid != null && job.child_number != null ? `${rt.buildbotURL}#/builders/${job.child_builderid}/builds/${job.child_number}` : event.url
    await hooks.attributeFinished.call({
      ...event, attr: job.attr, system: job.system, state: job.state, results: (job.results ?? SUCCESS) as Result,
      drvPath: job.drv_path, outPath: job.out_path, childBuildid: job.child_buildid, attrUrl, reason: job.reason,
      previous: prev, change: resultChange(job.state, prev),
    })
  }
}
