import { prop } from './format.ts'

export interface BuildLike {
  buildid: number
  builderid: number
  number: number
  results: number | null
  complete: boolean
  started_at: number
  complete_at: number | null
  properties?: Record<string, unknown>
  state_string?: string
}

export interface BranchRow {
  /** `main`, or `PR #12` */
  label: string
  kind: 'branch' | 'pr'
  branch: string
  pr: number | null
  latest: BuildLike
  count: number
}

/** Whether a build is a flake evaluation (it has the `nix_attribute` property or runs on `…/nix-eval`). */
export function isEvalBuild(build: BuildLike, builderName?: string): boolean {
  return prop(build.properties, 'nix_attribute') !== undefined || !!builderName?.endsWith('nix-eval')
}

/** Groups evaluation builds by branch or pull request; the newest build of each comes first. */
export function branchRows(builds: BuildLike[]): BranchRow[] {
  const rows = new Map<string, BranchRow>()
  for (const b of [...builds].sort((x, y) => y.buildid - x.buildid)) {
    const event = prop(b.properties, 'event')
    const pr = prop(b.properties, 'pr_number')
    const branch = String(prop(b.properties, 'branch') ?? '')
    const isPr = event === 'pull_request' || (pr !== undefined && pr !== null && pr !== '')
    const key = isPr ? `pr:${pr ?? branch}` : `branch:${branch}`
    const row = rows.get(key)
    if (row) { row.count++; continue }
    rows.set(key, {
      label: isPr ? `PR #${pr ?? '?'}` : branch || '(no branch)',
      kind: isPr ? 'pr' : 'branch', branch, pr: isPr && pr != null ? Number(pr) : null, latest: b, count: 1,
    })
  }
  return [...rows.values()]
}

/**
 * The default branch of a project: a `default_branch` property if the evaluation recorded one,
 * else `main`/`master` when built, else the branch pushed most often.
 */
export function defaultBranchRow(rows: BranchRow[], builds: BuildLike[]): BranchRow | undefined {
  const branches = rows.filter((r) => r.kind === 'branch')
  const declared = builds.map((b) => prop(b.properties, 'default_branch')).find((v) => typeof v === 'string')
  return branches.find((r) => r.branch === declared)
    ?? branches.find((r) => r.branch === 'main' || r.branch === 'master')
    ?? [...branches].sort((a, b) => b.count - a.count)[0]
}
