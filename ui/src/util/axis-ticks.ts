import { formatDuration } from './format.ts'

/** Tick steps of a time axis, in seconds: the first giving at most 8 ticks is used. */
const STEPS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]

export interface AxisTick { offset: number; label: string }

/**
 * Ticks of a time axis over `span` seconds: offsets from the start, at most 8 (plus 0), labelled
 * `0`, `+2s`, ... or in milliseconds when the whole axis lasts under a few seconds.
 */
export function axisTicks(span: number): AxisTick[] {
  if (!(span > 0)) return [{ offset: 0, label: '0' }]
  const step = STEPS.find((s) => span / s <= 8) ?? Math.ceil(span / 8 / 86400) * 86400
  const ticks: AxisTick[] = []
  for (let i = 0; i * step <= span + 1e-9; i++) {
    const t = i * step
    ticks.push({ offset: t, label: i === 0 ? '0' : step < 1 ? `+${Math.round(t * 1000)}ms` : `+${formatDuration(t * 1000)}` })
  }
  return ticks
}
