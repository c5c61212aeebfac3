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

/** Raised when the database stayed unreachable (restarting?) longer than the master waits: a 503, retry later. */
export class DatabaseUnavailableError extends Error {
  readonly status = 503
  constructor(cause?: unknown) {
    super("the master's database is unreachable (restarting?); retry in a moment", { cause })
  }
}

/**
 * Whether an error means the PostgreSQL server cannot be reached right now (waited for too
 * long, it ended the session, it is starting up or shutting down): worth a retry, not a bug.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true
  const e = err as { code?: unknown; message?: unknown } | null
  if (!e || typeof e !== 'object') return false
  if (typeof e.code === 'string' && /^(57P0[1-3]|08\d\d\d)$/.test(e.code)) return true
  return typeof e.message === 'string' && /^(Connection terminated|Client has encountered a connection error and is not queryable)/.test(e.message)
}

/**
 * The error to answer with 503 when `err` means the database cannot take the request now (its
 * disk is full, or it stayed unreachable past the wait); undefined for any other error.
 */
export function unavailableStorage(err: unknown): StorageFullError | DatabaseUnavailableError | undefined {
  if (isStorageFull(err)) return new StorageFullError()
  if (isDatabaseUnavailable(err)) return new DatabaseUnavailableError()
  return undefined
}

/** A new connection to the server failed in a way that passes when the server is back. */
export function isConnectFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return isDatabaseUnavailable(err) || (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'].includes(code))
    || /timeout exceeded when trying to connect/.test(String((err as Error)?.message))
}

/** The server ended the session while a statement ran (shutdown, crash): the statement did not commit. */
export function isSessionEnded(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === '57P01' || code === '57P02' || code === '57P03'
    || (typeof (err as Error)?.message === 'string' && /connection error and is not queryable/.test((err as Error).message))
}
