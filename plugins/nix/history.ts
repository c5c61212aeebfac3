import type { Kysely } from 'kysely'
import type { NixTables } from './jobs-store.ts'

/** At most this many evaluations in one grid request (a page of history). */
export const GRID_MAX_EVALUATIONS = 100

/**
 * The results of several evaluations side by side, compact enough for 50 evaluations x 1,000
 * attributes: `attrs` once, then per evaluation one state code per attribute (`states[i]` is the
 * state of `attrs[i]`, `.` when the evaluation did not have it) and the child build ids.
 */
export interface NixGrid {
  /** The request's ids, as a key (`12,15,19`). */
  id: string
  attrs: string[]
  /** The state each code stands for. */
  codes: Record<string, string>
  evaluations: { buildid: number; states: string; children: (number | null)[] }[]
}

const CODES: Record<string, string> = {
  s: 'success', f: 'failed', e: 'eval-failed', d: 'dependency-failed', c: 'cached-failure', k: 'skipped',
  x: 'cancelled', u: 'unsupported-system', b: 'building', p: 'pending', '.': 'absent',
}
const CODE_OF = new Map(Object.entries(CODES).map(([c, s]) => [s, c]))

/** Parses `12,15,19` (the path segment) into evaluation build ids; null when it is not such a list. */
export function parseBuildIds(text: string): number[] | null {
  if (!/^\d{1,10}(,\d{1,10})*$/.test(text)) return null
  const ids = [...new Set(text.split(',').map(Number))]
  if (ids.length > GRID_MAX_EVALUATIONS || ids.some((n) => n < 1 || n > 2 ** 31 - 1)) return null
  return ids
}

/** Reads the jobs of the given evaluations into a grid; attributes sorted by name. */
export async function readGrid(db: Kysely<NixTables>, buildids: number[]): Promise<NixGrid> {
  const rows = buildids.length
    ? await db.selectFrom('nix_jobs').select(['buildid', 'attr', 'state', 'child_buildid']).where('buildid', 'in', buildids).execute()
    : []
  const attrs = [...new Set(rows.map((r) => r.attr))].sort()
  const index = new Map(attrs.map((a, i) => [a, i]))
  const byEval = new Map(buildids.map((id) => [id, { states: new Array<string>(attrs.length).fill('.'), children: new Array<number | null>(attrs.length).fill(null) }]))
  for (const r of rows) {
    const e = byEval.get(Number(r.buildid))!
    const i = index.get(r.attr)!
    e.states[i] = CODE_OF.get(r.state) ?? '?'
    e.children[i] = r.child_buildid == null ? null : Number(r.child_buildid)
  }
  return {
    id: buildids.join(','), attrs, codes: CODES,
    evaluations: buildids.map((buildid) => ({ buildid, states: byEval.get(buildid)!.states.join(''), children: byEval.get(buildid)!.children })),
  }
}
