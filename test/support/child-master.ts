import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { execa, type ResultPromise } from 'execa'
import { connectDb, type Db } from '../../core/db/connect.ts'

const root = resolve(import.meta.dirname, '../..')

/** What `test/core/master-child.ts` prints once its master runs (and its first build started). */
export interface ChildReady { ready: true; pid: number; brids?: number[] }

/** A master running in its own process, for tests that kill it with SIGKILL. */
export interface ChildMaster {
  /** Resolves once the child printed its ready line; rejects if it exits first. */
  ready: Promise<ChildReady>
  /** SIGKILL, then waits for the process to be gone. */
  kill(): Promise<void>
  process: ResultPromise
}

/**
 * Writes `master.config.ts` (and a `package.json` making it ESM) into `basedir`; `body` is the
 * config file's text after its imports. `imports` maps a path relative to the checkout to the
 * names imported from it (core is always imported).
 */
export function writeChildConfig(basedir: string, body: string, imports: Record<string, string[]> = {}): string {
  const file = join(basedir, 'master.config.ts')
  writeFileSync(join(basedir, 'package.json'), '{"type":"module"}')
  const lines = Object.entries({ ...imports, 'core/index.ts': ['defineMaster', ...(imports['core/index.ts'] ?? [])] })
    .map(([path, names]) => `import { ${[...new Set(names)].join(', ')} } from ${JSON.stringify(join(root, path))}`)
  writeFileSync(file, `${lines.join('\n')}\n${body}`)
  return file
}

/**
 * Starts `test/core/master-child.ts` on a config file. With a builder and a count it adds that
 * many buildsets and reports ready once the first build runs (`brids`: their requests).
 */
export function startChildMaster(configFile: string, opts: { builder?: string; count?: number; env?: NodeJS.ProcessEnv } = {}): ChildMaster {
  const args = [join(root, 'test/core/master-child.ts'), configFile, ...(opts.builder ? [opts.builder, String(opts.count ?? 1)] : [])]
  const child = execa('node', ['--import', 'tsx', ...args], {
    cwd: root, reject: false, buffer: false, stdout: 'pipe', stderr: 'inherit', ...(opts.env ? { env: opts.env } : {}),
  })
  const ready = new Promise<ChildReady>((res, rej) => {
    let buf = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d
      const line = buf.split('\n').find((x) => x.startsWith('{"ready"'))
      if (line) res(JSON.parse(line) as ChildReady)
    })
    void child.then((r) => rej(new Error(`the child master exited early: ${r.exitCode ?? r.signal}`)))
  })
  return {
    ready, process: child,
    async kill() {
      if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL')
      await child
    },
  }
}

/**
 * Opens its own connection to a child master's database and polls `check` until it returns a
 * truthy value (the child's state is only visible there); rejects with `what` after `ms`.
 */
export async function untilInDb<T>(dbUrl: string, check: (db: Db) => Promise<T>, what: string, ms = 60_000): Promise<NonNullable<T>> {
  const db = await connectDb(dbUrl)
  try {
    const deadline = Date.now() + ms
    for (;;) {
      const v = await check(db)
      if (v) return v
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 25))
    }
  } finally {
    await db.close()
  }
}
