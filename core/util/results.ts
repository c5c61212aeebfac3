/** Buildbot's result codes. They are public API: REST, `/ws` and reporters use the integers. */
export const SUCCESS = 0
export const WARNINGS = 1
export const FAILURE = 2
export const SKIPPED = 3
export const EXCEPTION = 4
export const RETRY = 5
export const CANCELLED = 6

export type Result = 0 | 1 | 2 | 3 | 4 | 5 | 6

export const RESULT_NAMES = ['success', 'warnings', 'failure', 'skipped', 'exception', 'retry', 'cancelled'] as const

/** Worst first, as Buildbot's `worst_status` orders them. */
const SEVERITY: Record<Result, number> = { 6: 6, 5: 5, 4: 4, 2: 3, 1: 2, 0: 1, 3: 0 }

/** The worse of two results (`worstStatus(SUCCESS, FAILURE) === FAILURE`). */
export function worstStatus(a: Result, b: Result): Result {
  return SEVERITY[a] >= SEVERITY[b] ? a : b
}

export function resultName(r: number | null | undefined): string {
  return r == null || r < 0 ? 'pending' : (RESULT_NAMES[r] ?? 'unknown')
}
