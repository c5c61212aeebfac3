import { mkdirSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { dirname, isAbsolute, resolve } from 'node:path'
import { Kysely, PostgresDialect, SqliteDialect, type PostgresPool, type PostgresPoolClient } from 'kysely'
import SqliteDatabase from 'better-sqlite3'
import type { Database } from './schema.ts'
import { migrate } from './migrations.ts'
import { DatabaseUnavailableError, isConnectFailure, isSessionEnded } from './storage-error.ts'

export type Dialect = 'sqlite' | 'postgres'

export interface Db {
  readonly k: Kysely<Database>
  readonly dialect: Dialect
  readonly url: string
  close(): Promise<void>
}

/** Parses `sqlite:path`, `sqlite:///abs/path` (Buildbot's form), `sqlite::memory:` or `postgresql://...`. */
export function parseDbUrl(url: string, baseDir: string): { dialect: Dialect; path?: string; connectionString?: string } {
  if (/^postgres(ql)?:\/\//.test(url)) return { dialect: 'postgres', connectionString: url }
  const m = /^sqlite:(\/\/\/?)?(.*)$/.exec(url)
  if (!m) throw new Error(`unsupported database url '${url}': use 'sqlite:<file>' or 'postgresql://user@host/db'`)
  let path = m[2]!
  if (path === ':memory:' || path === '') return { dialect: 'sqlite', path: ':memory:' }
  if (m[1] === '///' && !path.startsWith('/')) path = '/' + path
  return { dialect: 'sqlite', path: isAbsolute(path) ? path : resolve(baseDir, path) }
}

/**
 * better-sqlite3 compiles a statement on every `prepare`, and Kysely prepares each query it runs.
 * The master runs the same few dozen queries over and over, so compiled statements are kept
 * (bounded, least recently used out first). Kysely never iterates two results of one statement
 * at once, so sharing a statement is safe.
 */
function cachedStatements(raw: SqliteDatabase.Database, max = 500): { close(): void; prepare(sql: string): SqliteDatabase.Statement } {
  const cache = new Map<string, SqliteDatabase.Statement>()
  return {
    close: () => { cache.clear(); raw.close() },
    prepare(sql: string) {
      let stmt = cache.get(sql)
      if (stmt) { cache.delete(sql); cache.set(sql, stmt); return stmt }
      stmt = raw.prepare(sql)
      cache.set(sql, stmt)
      if (cache.size > max) cache.delete(cache.keys().next().value!)
      return stmt
    },
  }
}

/**
 * PostgreSQL parses and plans every unnamed query again. The master's queries are a small fixed
 * set, so each connection prepares them once under a name derived from the text. Texts with
 * many parameters (long `in (...)` lists) vary too much to be worth keeping and stay unnamed.
 *
 * The server may also go away for a while (a restart, a failover). Getting a connection then
 * waits for it, up to `waitMs`, and a statement the server aborted by ending its session
 * (57P01/57P02: nothing of it was committed) runs again on a new connection when it was not
 * inside a transaction; a transaction fails as a whole and its caller decides.
 */
function namedStatements(pool: import('pg').Pool, waitMs: number): PostgresPool {
  type Client = import('pg').PoolClient
  const names = new Map<string, string>()
  const nameOf = (sql: string, n: number): string | undefined => {
    if (n > 16 || sql.length > 4000) return undefined
    let name = names.get(sql)
    if (!name) names.set(sql, (name = `bbn_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`))
    return name
  }
  const acquire = async (): Promise<Client> => {
    const deadline = Date.now() + waitMs
    for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
      try {
        return await pool.connect()
      } catch (err) {
        if (!isConnectFailure(err)) throw err
        if (Date.now() + delay > deadline) throw new DatabaseUnavailableError(err)
        await new Promise((r) => setTimeout(r, delay))
      }
    }
  }
  const wrap = (first: Client) => {
    // `c` is undefined once given back and no new one could be had (the caller then releases
    // nothing: releasing a client twice throws, and would hide the real error).
    let c: Client | undefined = first
    let inTransaction = false
    // A checked-out client has no error listener of the pool's: a session the server ends
    // between two statements would be an uncaught 'error' event, ending the process. It is
    // remembered instead, and the client is thrown away on release.
    let broken: Error | undefined
    const onError = (err: Error): void => { broken = err }
    c.on('error', onError)
    const giveBack = (err?: Error | boolean): void => {
      if (!c) return
      c.removeListener('error', onError)
      c.release(err || broken || undefined)
      c = undefined
    }
    const replace = async (): Promise<Client> => {
      giveBack(broken ?? true)
      const next = await acquire()
      broken = undefined
      next.on('error', onError)
      return (c = next)
    }
    return {
      async query(sql: string, values: readonly unknown[]) {
        // Only a statement on its own runs again: never one inside a transaction, nor a BEGIN,
        // COMMIT or ROLLBACK (a COMMIT sent again on a new session would "succeed" with nothing).
        const control = /^\s*(begin|start transaction|commit|rollback)\b/i.exec(sql)?.[1]?.toLowerCase()
        const alone = !inTransaction && !control
        // A transaction whose session is gone cannot go on elsewhere: its statements fail.
        if (!c && !alone) throw new DatabaseUnavailableError(broken)
        let client = c && !(broken && alone) ? c : await replace()
        if (control) inTransaction = control === 'begin' || control === 'start transaction'
        const deadline = Date.now() + waitMs
        for (;;) {
          try {
            return await client.query({ name: nameOf(sql, values.length), text: sql, values: [...values] })
          } catch (err) {
            // The pool may hand out an idle session the server is ending right now: again.
            if (!alone || !isSessionEnded(err) || Date.now() > deadline) throw err
            broken ??= err as Error
            client = await replace()
          }
        }
      },
      release: (err?: Error | boolean) => giveBack(err),
    }
  }
  return {
    connect: async () => wrap(await acquire()) as unknown as PostgresPoolClient,
    end: () => pool.end(),
  }
}

/** How long a query waits for an unreachable PostgreSQL server before it fails (default 30 s). */
const PG_WAIT_MS = 30_000

/** Opens the database, runs migrations, refuses corrupt or newer-schema databases. */
export async function connectDb(url: string, opts: { baseDir?: string; applicationName?: string; unavailableWaitMs?: number } = {}): Promise<Db> {
  const parsed = parseDbUrl(url, opts.baseDir ?? process.cwd())
  let k: Kysely<Database>
  if (parsed.dialect === 'sqlite') {
    const path = parsed.path!
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
    let raw: SqliteDatabase.Database
    try {
      raw = new SqliteDatabase(path)
      raw.pragma('journal_mode = WAL')
      raw.pragma('synchronous = NORMAL')
      raw.pragma('busy_timeout = 5000')
      // 4 MiB of page cache instead of better-sqlite3's 16: the OS caches the file too, and the
      // master's hot rows are few (a 5,000-attribute matrix: 8 MiB less RSS, the same CPU within noise).
      raw.pragma('cache_size = -4000')
      raw.pragma('quick_check')
    } catch (err) {
      throw new Error(`cannot open the sqlite database '${path}': ${(err as Error).message}; restore it from a backup or move it away to start with a fresh one`)
    }
    k = new Kysely<Database>({ dialect: new RollbackSafeSqliteDialect({ database: cachedStatements(raw) }) })
  } else {
    // bigint columns (epoch seconds) come back as numbers; they fit easily.
    const { default: pg } = await import('pg')
    pg.types.setTypeParser(20, (v: string) => Number(v))
    const pool = new pg.Pool({ connectionString: parsed.connectionString, max: 10, application_name: opts.applicationName })
    // An idle connection that dies (server restart, admin termination) must not take the master
    // down: the pool drops it and opens a new one when needed (see namedStatements for the rest).
    pool.on('error', () => {})
    k = new Kysely<Database>({ dialect: new PostgresDialect({ pool: namedStatements(pool, opts.unavailableWaitMs ?? PG_WAIT_MS) }) })
  }
  try {
    await migrate(k, parsed.dialect)
  } catch (err) {
    await k.destroy()
    const msg = (err as Error).message
    if (/newer than this master/.test(msg)) throw err
    throw new Error(`cannot prepare the database '${url}': ${msg}`)
  }
  return { k, dialect: parsed.dialect, url, close: () => k.destroy() }
}

/**
 * SQLite ends a transaction by itself on some errors (a full disk, SQLITE_FULL); kysely's
 * ROLLBACK then fails with "cannot rollback - no transaction is active" and hides the real
 * error. This dialect lets that ROLLBACK be a no-op, so the caller sees what went wrong.
 */
class RollbackSafeSqliteDialect extends SqliteDialect {
  override createDriver() {
    const driver = super.createDriver()
    const rollback = driver.rollbackTransaction.bind(driver)
    driver.rollbackTransaction = async (connection) => {
      try {
        await rollback(connection)
      } catch (err) {
        if (!/no transaction is active/.test((err as Error).message)) throw err
      }
    }
    return driver
  }
}
