import { mkdirSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { dirname, isAbsolute, resolve } from 'node:path'
import { Kysely, PostgresDialect, SqliteDialect, type PostgresPool, type PostgresPoolClient } from 'kysely'
import SqliteDatabase from 'better-sqlite3'
import type { Database } from './schema.ts'
import { migrate } from './migrations.ts'

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
 */
function namedStatements(pool: import('pg').Pool): PostgresPool {
  type Client = import('pg').PoolClient
  const names = new Map<string, string>()
  const nameOf = (sql: string, n: number): string | undefined => {
    if (n > 16 || sql.length > 4000) return undefined
    let name = names.get(sql)
    if (!name) names.set(sql, (name = `bbn_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`))
    return name
  }
  const wrap = (c: Client) => ({
    query: (sql: string, values: readonly unknown[]) => c.query({ name: nameOf(sql, values.length), text: sql, values: [...values] }),
    release: (err?: Error | boolean) => c.release(err),
  })
  return {
    connect: async () => wrap(await pool.connect()) as unknown as PostgresPoolClient,
    end: () => pool.end(),
  }
}

/** Opens the database, runs migrations, refuses corrupt or newer-schema databases. */
export async function connectDb(url: string, opts: { baseDir?: string; applicationName?: string } = {}): Promise<Db> {
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
    // down: the pool drops it and opens a new one when needed; queries in flight fail and retry.
    pool.on('error', () => {})
    k = new Kysely<Database>({ dialect: new PostgresDialect({ pool: namedStatements(pool) }) })
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
