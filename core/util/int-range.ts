/**
 * Integer ranges of what the databases store: ids, numbers and priorities are 32-bit `integer`
 * columns on PostgreSQL (sqlite would take more); times are 64-bit. Values outside these ranges
 * are refused at the edge so both databases answer the same.
 */
export const INT32_MIN = -(2 ** 31)
export const INT32_MAX = 2 ** 31 - 1

export const isInt32 = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX
export const isSafeInt = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n)

/** An id sent as a JSON number or a decimal string ("12"); undefined unless it fits a 32-bit column. */
export function parseIntId(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*[-+]?\d{1,12}\s*$/.test(v) ? Number(v) : undefined
  return isInt32(n) ? n : undefined
}
