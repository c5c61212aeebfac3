import type { Result } from '../../core/index.ts'
import type { NixRuntime } from './nix-runtime.ts'
import type { NixPreviousResult } from './nix-hooks.ts'

/** Where the last complete default-branch evaluation of a project is remembered (core object state). */
async function lastDefaultEval({ rt }: NixRuntime, project: string): Promise<{ id: number; buildid: number | null }> {
  const id = await rt.data.state.objectId(`nix:${project}`, 'nix-project')
  return { id, buildid: await rt.data.state.getState<number | null>(id, 'last_default_eval', null) }
}

/** Remembers `buildid` as the project's latest complete evaluation on its default branch. */
export async function recordDefaultEval(runtime: NixRuntime, project: string, buildid: number): Promise<void> {
  const { id } = await lastDefaultEval(runtime, project)
  await runtime.rt.data.state.setState(id, 'last_default_eval', buildid)
}

/** Each attribute's result in the project's last complete default-branch evaluation. */
export async function defaultBranchResults(runtime: NixRuntime, project: string): Promise<Map<string, NixPreviousResult>> {
  const { buildid } = await lastDefaultEval(runtime, project)
  const out = new Map<string, NixPreviousResult>()
  if (buildid == null) return out
  for (const j of await runtime.jobs.list(buildid)) {
    if (j.state === 'pending' || j.state === 'building' || j.state === 'cancelled' || j.state === 'unsupported-system') continue
    out.set(j.attr, { state: j.state, results: j.results as Result | null, buildid, childBuildid: j.child_buildid })
  }
  return out
}
