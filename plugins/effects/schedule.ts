import { createHash } from 'node:crypto'

/** `onSchedule.<name>.when` (UTC): each field set must hold; unset minute and hour are spread by a hash of the name. */
export interface ScheduleWhen {
  minute?: number | null
  hour?: number | number[] | null
  dayOfWeek?: string | string[] | null
  dayOfMonth?: number | number[] | null
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']

export interface CronResult {
  /** A five-field cron expression in UTC (`m h dom mon dow`), when `when` is valid. */
  cron?: string
  /** What is wrong with `when`, one message per field. */
  errors: string[]
}

const list = <T>(v: T | T[] | null | undefined): T[] | undefined => (v == null ? undefined : Array.isArray(v) ? v : [v])

/** minute and hour derived from the name, so schedules without them do not all start at once. */
export function spreadOf(name: string): { minute: number; hour: number } {
  const h = createHash('sha256').update(name).digest()
  return { minute: h.readUInt16BE(0) % 60, hour: h.readUInt16BE(2) % 24 }
}

/**
 * Turns `when` into a cron expression. Fields outside their range or of the wrong type are
 * errors naming the field. With both dayOfWeek and dayOfMonth set, cron runs on either.
 */
export function whenToCron(name: string, when: ScheduleWhen | null | undefined): CronResult {
  const w: Record<string, unknown> = when && typeof when === 'object' ? when as Record<string, unknown> : {}
  const errors: string[] = []
  const known = new Set(['minute', 'hour', 'dayOfWeek', 'dayOfMonth'])
  for (const k of Object.keys(w)) if (!known.has(k)) errors.push(`when.${k}: unknown field (known: minute, hour, dayOfWeek, dayOfMonth)`)
  const ints = (field: string, min: number, max: number, allowList: boolean): number[] | undefined => {
    const v = w[field]
    if (v == null) return undefined
    if (Array.isArray(v) && !allowList) { errors.push(`when.${field}: must be one integer ${min}..${max}, got a list`); return undefined }
    const xs = list(v as number | number[])!
    if (!xs.length) { errors.push(`when.${field}: an empty list never matches`); return undefined }
    for (const x of xs) {
      if (!Number.isInteger(x) || x < min || x > max) { errors.push(`when.${field}: ${JSON.stringify(x)} is not an integer ${min}..${max}`); return undefined }
    }
    return [...new Set(xs)].sort((a, b) => a - b)
  }
  const spread = spreadOf(name)
  const minute = ints('minute', 0, 59, false) ?? [spread.minute]
  const hour = ints('hour', 0, 23, true) ?? [spread.hour]
  const dom = ints('dayOfMonth', 1, 31, true)
  let dow: number[] | undefined
  if (w.dayOfWeek != null) {
    const xs = list(w.dayOfWeek as string | string[])!
    const bad = xs.filter((d) => typeof d !== 'string' || !DAYS.includes(d))
    if (bad.length || !xs.length) errors.push(`when.dayOfWeek: ${bad.length ? JSON.stringify(bad[0]) : 'an empty list'} is not one of ${DAYS.slice(1).concat('Sun').join(', ')}`)
    else dow = [...new Set(xs.map((d) => DAYS.indexOf(d)))].sort((a, b) => a - b)
  }
  if (errors.length) return { errors }
  return { cron: [minute.join(','), hour.join(','), dom ? dom.join(',') : '*', '*', dow ? dow.join(',') : '*'].join(' '), errors }
}
