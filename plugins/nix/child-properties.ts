import { jobOutputs, type StoredJob } from './jobs-store.ts'
import type { MatrixRunInfo } from './matrix-run.ts'

type ChildInfo = Pick<MatrixRunInfo, 'project' | 'refPrefix' | 'branch' | 'isDefault' | 'keep' | 'event'>

/**
 * The properties a child build of `job` starts with: what its steps, the status reporters and
 * the UI read (attribute, derivation, outputs, branch, what is kept, its evaluation build).
 */
export function childProperties(job: StoredJob, info: ChildInfo, evalBuildid: number): Record<string, unknown> {
  const { project } = info
  return {
    attr: job.attr, system: job.system, drv_path: job.drv_path, out_path: job.out_path, cacheStatus: job.cache_status,
    virtual_builder_name: `${info.refPrefix}.${job.attr}`, status_name: `nix-build ${info.refPrefix}.${job.attr}`,
    project: project.name, branch: info.branch, default_branch: project.defaultBranch, nix_default_branch: info.isDefault, nix_keep: info.keep ?? null,
    nix_jobid: job.jobid, nix_eval_buildid: evalBuildid, outputs: jobOutputs(job),
    // The commit the check was built from, as Buildbot's Trigger hands a child its parent's got_revision.
    ...(info.event.revision ? { got_revision: info.event.revision } : {}),
  }
}
