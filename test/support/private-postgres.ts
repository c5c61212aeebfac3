import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import { chownSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './git-servers.ts'

/** Where Debian's `postgresql` package puts the server binaries. */
export const PG_BIN = '/usr/lib/postgresql/15/bin'

/**
 * A PostgreSQL server of a test's own (a fresh cluster in a temporary folder, on a free loopback
 * port), so the test can stop and start it without disturbing tests that share the machine's
 * server. Runs as `postgres` when the test runs as root (the server refuses root).
 */
export interface PrivatePostgres {
  /** `postgresql://postgres@127.0.0.1:<port>/postgres` (trust authentication). */
  url: string
  /** `pg_ctl start`, resolving once the server accepts connections (the event loop keeps running). */
  start(): Promise<void>
  /** `pg_ctl stop -m fast`: sessions are ended, running transactions rolled back. */
  stop(): Promise<void>
  /** Stops the server and removes the cluster. */
  destroy(): Promise<void>
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'bbn-pg-'))
  const data = join(dir, 'data')
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    chownSync(dir, uid, gid)
  }
  const run = async (cmd: string, args: string[]): Promise<void> => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args]] : [join(PG_BIN, cmd), args]
    await promisify(execFile)(file, argv, { cwd: dir })
  }
  await run('initdb', ['-D', data, '--auth=trust', '--username=postgres', '--no-sync', '-E', 'UTF8'])
  const port = await freePort()
  // fsync off: a test cluster, thrown away after the test.
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`
  const pg: PrivatePostgres = {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    start: () => run('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'server.log'), '-w', 'start']),
    stop: () => run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']),
    destroy: async () => {
      await pg.stop().catch(() => { /* not running */ })
      rmSync(dir, { recursive: true, force: true })
    },
  }
  await pg.start()
  return pg
}
