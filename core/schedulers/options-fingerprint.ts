import { randomUUID } from 'node:crypto'

/**
 * Every option of a scheduler (or change source) as one string, so a reconfigure restarts it on
 * any change. A function cannot be compared: it counts as changed each time the spec is made
 * unless it says what it depends on, through a `fnKey` beside it (`changeFilter: { fn, fnKey }`)
 * or a `fingerprint` property of its own.
 */
export function optionsFingerprint(options: unknown): string {
  return JSON.stringify(options, function (this: Record<string, unknown>, key, value: unknown) {
    if (value instanceof RegExp) return `re:${String(value)}`
    if (typeof value === 'function') {
      if (key === 'fn' && this.fnKey !== undefined) return ['fn', this.fnKey]
      const own = (value as { fingerprint?: unknown }).fingerprint
      return own !== undefined ? ['fn', own] : ['fn', randomUUID()]
    }
    return value
  }) ?? 'undefined'
}
