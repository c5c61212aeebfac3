const RESULT_NAMES = ['success', 'warnings', 'failure', 'skipped', 'exception', 'retry', 'cancelled']

/** Buildbot result int → name; `pending` while there is none (builds use null, requests -1). */
export function resultName(results: unknown, complete = true): string {
  if (typeof results !== 'number' || results < 0) return complete ? 'pending' : 'running'
  return RESULT_NAMES[results] ?? 'unknown'
}

/** `1h 2m`, `3m 4s`, `5s` — short enough for a table cell. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms) || ms < 0) return ''
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${s % 60}s`
  return `${Math.floor(m / 60)}h ${m % 60}m`
}

/** Duration between two Buildbot epochs (seconds); running builds count to `now`. */
export function epochDuration(start: unknown, end: unknown, now = Date.now()): string {
  if (typeof start !== 'number') return ''
  const stop = typeof end === 'number' ? end * 1000 : now
  return formatDuration(stop - start * 1000)
}

const pad = (n: number): string => String(n).padStart(2, '0')

/**
 * `2026-12-05 14:23:04` in local time: the same shape everywhere, and no locale formatting (its
 * first use loads ICU data, tens of milliseconds on the critical path of a page).
 */
export function formatEpoch(epoch: unknown): string {
  if (typeof epoch !== 'number') return ''
  const d = new Date(epoch * 1000)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** `5s ago`, `57m ago`, `3h ago`, `2d ago`: one unit is enough for "how recent". */
export function timeAgo(epoch: unknown, now = Date.now()): string {
  if (typeof epoch !== 'number') return ''
  const s = Math.max(0, Math.round(now / 1000 - epoch))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`
  return `${Math.floor(s / 86400)}d ago`
}

/** A sourced property value (`{"branch": ["main", "Change"]}`) or undefined. */
export function prop(props: unknown, name: string): unknown {
  const p = (props as Record<string, unknown> | null | undefined)?.[name]
  return Array.isArray(p) ? p[0] : undefined
}
