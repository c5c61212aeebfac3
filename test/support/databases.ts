import pg from 'pg'
import { join } from 'node:path'

/** One database backend a system test runs against. */
export interface TestDatabase {
  name: 'sqlite' | 'postgres'
  /** A fresh, empty database for one test (sqlite: a file in `tmpdir`; PostgreSQL: a new database). */
  url(tmpdir: string): Promise<string>
  /** Drops the databases this backend created (PostgreSQL); call once the masters using them are stopped. */
  cleanup(): Promise<void>
}

const inCI = () => process.env.CI === 'true' || process.env.CI === '1'

/**
 * The backends to run against: sqlite always; PostgreSQL when `TEST_PG_URL` names an admin
 * connection (e.g. `postgresql://bbn:bbn@127.0.0.1:5432/bbn_test`). In CI PostgreSQL is required.
 */
export function testDatabases(): TestDatabase[] {
  const out: TestDatabase[] = [{ name: 'sqlite', url: async (dir) => `sqlite:${join(dir, 'state.sqlite')}`, cleanup: async () => {} }]
  const admin = process.env.TEST_PG_URL
  if (!admin) {
    if (inCI()) throw new Error('TEST_PG_URL is not set; PostgreSQL tests are required in CI (e.g. TEST_PG_URL=postgresql://bbn:bbn@127.0.0.1:5432/bbn_test)')
    return out
  }
  const created: string[] = []
  let seq = 0
  const withAdmin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: admin })
    await c.connect()
    try { return await fn(c) } finally { await c.end() }
  }
  out.push({
    name: 'postgres',
    async url() {
      const name = `bbn_t_${process.pid}_${Date.now().toString(36)}_${seq++}`
      await withAdmin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE template0`))
      created.push(name)
      const u = new URL(admin)
      u.pathname = `/${name}`
      return u.toString()
    },
    async cleanup() {
      const names = created.splice(0)
      if (!names.length) return
      await withAdmin(async (c) => {
        for (const n of names) {
          // A closed pool's connections may still be saying goodbye; terminating them mid-way
          // would raise an error in the test process. Wait for them first (FORCE only as a last resort).
          for (let i = 0; i < 100; i++) {
            const { rows } = await c.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [n])
            if (rows[0].n === 0) break
            await new Promise((r) => setTimeout(r, 50))
          }
          await c.query(`DROP DATABASE IF EXISTS ${n} WITH (FORCE)`)
        }
      })
    },
  })
  return out
}
