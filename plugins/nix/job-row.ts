import type { NixJob } from './eval/nix-evaluator.ts'
import type { StoredJob } from './jobs-store.ts'

/** The out path nix would build for a job: `out`, else the first output. */
export function outPathOf(j: NixJob): string | null {
  const o = j.outputs ?? {}
  return o.out ?? Object.values(o).find((p) => p) ?? null
}

/**
 * The row an evaluated job starts as in evaluation `buildid`: `eval-failed` with nix's error,
 * `unsupported-system` when its system is not one the master builds, else `pending`.
 */
export function evaluatedJobRow(j: NixJob, buildid: number, evalKey: string, systems: ReadonlySet<string>): Omit<StoredJob, 'jobid'> {
  const system = j.system ?? j.attrPath[0] ?? ''
  const unsupported = !j.error && !systems.has(system)
  return {
    buildid, attr: j.attr, system, drv_path: j.drvPath ?? null, out_path: j.error ? null : outPathOf(j),
    state: j.error ? 'eval-failed' : unsupported ? 'unsupported-system' : 'pending', results: null,
    reason: j.error ?? (unsupported ? `${system} is not in buildSystems (${[...systems].join(', ')})` : null),
    child_buildid: null, child_builderid: null, child_number: null, buildrequestid: null, queued_at: null, started_at: null,
    complete_at: null, first_failure_url: null, eval_key: evalKey,
    needed: j.error ? null : JSON.stringify([...(j.neededBuilds ?? []), ...(j.neededSubstitutes ?? [])]), cache_status: j.cacheStatus ?? null,
    outputs: j.error || !j.outputs ? null : JSON.stringify(j.outputs),
  }
}
