import { FAILED_STATES, compareNatural } from './matrix-model.ts'

/** `GET nixgrid/<ids>`: evaluations side by side, one state code per attribute (see plugins/nix/history.ts). */
export interface NixGrid {
  id: string
  attrs: string[]
  codes: Record<string, string>
  evaluations: { buildid: number; states: string; children: (number | null)[] }[]
}

export interface GridCell { state: string; child: number | null }

/** The state of attribute `i` in evaluation `e` (`absent` when that evaluation did not have it). */
export function cellOf(grid: NixGrid, e: number, i: number): GridCell {
  const ev = grid.evaluations[e]!
  return { state: grid.codes[ev.states[i] ?? '.'] ?? 'absent', child: ev.children[i] ?? null }
}

/** Attribute indexes in natural order (`unit-2` before `unit-10`), optionally filtered by a name search. */
export function attrOrder(grid: NixGrid, query = ''): number[] {
  const q = query.trim().toLowerCase()
  const idx = grid.attrs.map((_, i) => i).filter((i) => !q || grid.attrs[i]!.toLowerCase().includes(q))
  return idx.sort((a, b) => compareNatural(grid.attrs[a]!, grid.attrs[b]!))
}

export interface EvalDiff {
  newlyFailing: string[]
  stillFailing: string[]
  fixed: string[]
  added: string[]
  removed: string[]
}

const failed = (s: string) => FAILED_STATES.has(s)
const present = (s: string) => s !== 'absent'

/**
 * What changed from evaluation `prev` to `cur` (indexes into the grid's evaluations): newly
 * failing, still failing, fixed, added and removed attributes, each in natural order.
 */
export function diffEvaluations(grid: NixGrid, prev: number, cur: number): EvalDiff {
  const d: EvalDiff = { newlyFailing: [], stillFailing: [], fixed: [], added: [], removed: [] }
  // Grouped first, then each (usually short) group sorted: not thousands of names for a few changes.
  for (let i = 0; i < grid.attrs.length; i++) {
    const a = cellOf(grid, prev, i).state
    const b = cellOf(grid, cur, i).state
    const name = grid.attrs[i]!
    if (!present(a) && present(b)) d.added.push(name)
    else if (present(a) && !present(b)) d.removed.push(name)
    if (!present(b)) continue
    if (failed(b)) (present(a) && failed(a) ? d.stillFailing : d.newlyFailing).push(name)
    else if (present(a) && failed(a) && b === 'success') d.fixed.push(name)
  }
  for (const list of Object.values(d)) list.sort(compareNatural)
  return d
}
