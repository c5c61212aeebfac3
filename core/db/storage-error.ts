/**
 * Whether an error is the database refusing writes for lack of space: SQLite's SQLITE_FULL
 * ("database or disk is full"), an ENOSPC from the file system, or PostgreSQL's disk_full (53100).
 */
export function isStorageFull(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null
  if (!e || typeof e !== 'object') return false
  if (e.code === 'SQLITE_FULL' || e.code === 'ENOSPC' || e.code === '53100') return true
  return typeof e.message === 'string' && /database or disk is full|no space left on device/i.test(e.message)
}

/** What to tell users about a failed write: "disk full" when it is, else the database's message. */
export function storageErrorText(err: unknown): string {
  if (isStorageFull(err)) return 'disk full: the database could not be written'
  return `the database could not be written: ${(err as Error)?.message ?? String(err)}`
}

/** Raised to HTTP callers: the master cannot store anything right now (503, retry later). */
export class StorageFullError extends Error {
  readonly status = 503
  constructor() {
    super("disk full: the master's database cannot be written; free space on its disk and retry")
  }
}
