/** One attribute of an evaluation's build matrix, as `GET /api/v2/builds/<id>/nixjobs` returns it. */
export interface NixJob {
  jobid: number
  buildid: number
  attr: string
  system: string
  drv_path: string | null
  out_path: string | null
  state: string
  results: number | null
  reason: string | null
  child_buildid: number | null
  child_builderid: number | null
  child_number: number | null
  buildrequestid: number | null
  /** Seconds since the epoch (with a fraction). */
  queued_at: number | null
  started_at: number | null
  complete_at: number | null
  first_failure_url: string | null
}

/**
 * The fields the matrix reads: it asks only for these (`?field=`), so 5,000 attributes are about
 * half the bytes of whole jobs (no store paths, no request or builder ids). Events still carry
 * whole jobs.
 */
export const MATRIX_FIELDS = ['jobid', 'attr', 'system', 'state', 'reason', 'child_buildid', 'queued_at', 'started_at', 'complete_at', 'first_failure_url'] as const

export const FAILED_STATES = new Set(['failed', 'eval-failed', 'dependency-failed', 'cached-failure'])
export const ACTIVE_STATES = new Set(['pending', 'building'])
export const SKIPPED_STATES = new Set(['skipped', 'unsupported-system'])

/** Whether a job is shown under a filter: `failed` and `skipped` stand for their whole group. */
export function inFilter(state: string, filter: string): boolean {
  if (!filter || state === filter) return true
  if (filter === 'failed') return FAILED_STATES.has(state)
  if (filter === 'skipped') return SKIPPED_STATES.has(state)
  if (filter === 'cancelled') return state === 'interrupted'
  return false
}

/** Failures first (they are what a reader came for), then running, waiting, done, skipped. */
const RANK: Record<string, number> = {
  failed: 0, 'eval-failed': 0, 'cached-failure': 0, 'dependency-failed': 1, cancelled: 2, interrupted: 2,
  building: 3, pending: 4, success: 5, skipped: 6, 'unsupported-system': 6,
}

/** Names compare as people read them: `unit-2` before `unit-10`. */
const naturalCollator = new Intl.Collator('en', { numeric: true })
export const compareNatural = (a: string, b: string): number => naturalCollator.compare(a, b)

export function compareJobs(a: NixJob, b: NixJob): number {
  return (RANK[a.state] ?? 3) - (RANK[b.state] ?? 3) || naturalCollator.compare(a.attr, b.attr)
}

/**
 * Each attribute's place in natural order, for sorting by integers: states change thousands of
 * times during a matrix, names do not, so the collator runs once per attribute set.
 */
export function naturalIndex(jobs: NixJob[]): Map<string, number> {
  const names = [...new Set(jobs.map((j) => j.attr))].sort(compareNatural)
  return new Map(names.map((n, i) => [n, i]))
}

/**
 * The jobs as they stand once their evaluation has ended: a job still `pending` or `building`
 * then was cut off (a master restart, a stop) and is shown as `interrupted`, not as running.
 */
export function settledJobs<T extends NixJob>(jobs: T[], evaluationComplete: boolean): T[] {
  if (!evaluationComplete) return jobs
  return jobs.map((j) => (ACTIVE_STATES.has(j.state)
    ? { ...j, state: 'interrupted', reason: j.reason ?? 'the evaluation ended before this attribute finished' }
    : j))
}

export function countStates(jobs: NixJob[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const j of jobs) counts.set(j.state, (counts.get(j.state) ?? 0) + 1)
  return counts
}

/**
 * Jobs shown: optional state filter (`failed` covers every failure kind) and a name search, sorted
 * by `compareJobs` (with `order` from `naturalIndex`, by its integers instead of the collator).
 */
export function visibleJobs(jobs: NixJob[], state: string, query: string, order?: Map<string, number>): NixJob[] {
  const q = query.trim().toLowerCase()
  const shown = jobs.filter((j) => inFilter(j.state, state) && (!q || j.attr.toLowerCase().includes(q)))
  if (!order) return shown.sort(compareJobs)
  return shown.sort((a, b) => (RANK[a.state] ?? 3) - (RANK[b.state] ?? 3) || (order.get(a.attr) ?? 0) - (order.get(b.attr) ?? 0))
}

/** Seconds since the epoch, as the nixjobs times are. */
export const nowSeconds = (): number => Date.now() / 1000

/** How long a job has been building, in milliseconds (for `formatDuration`). */
export function jobDuration(j: NixJob, now = nowSeconds()): number | null {
  if (j.started_at == null) return null
  return ((j.complete_at ?? now) - j.started_at) * 1000
}

/** Start and end in seconds since the epoch, like the jobs' times. */
export interface TimelineStats {
  start: number
  end: number
  /** The longest-running attribute. */
  slowest: NixJob | null
  /** The attribute that finished last: the end of the critical path of the evaluation. */
  last: NixJob | null
}

export function timelineStats(jobs: NixJob[], now = nowSeconds()): TimelineStats {
  let start = Infinity, end = -Infinity, slowest: NixJob | null = null, last: NixJob | null = null
  let slowestMs = -1
  for (const j of jobs) {
    const s = j.queued_at ?? j.started_at
    if (s == null) continue
    start = Math.min(start, s)
    const e = j.complete_at ?? (j.started_at != null ? now : s)
    end = Math.max(end, e)
    const d = jobDuration(j, now) ?? -1
    if (d > slowestMs) { slowestMs = d; slowest = j }
    if (j.complete_at != null && (!last || j.complete_at > last.complete_at!)) last = j
  }
  if (start === Infinity) return { start: 0, end: 0, slowest: null, last: null }
  return { start, end: Math.max(end, start + 0.001), slowest, last }
}
