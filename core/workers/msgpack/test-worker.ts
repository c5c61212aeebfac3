import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process'
import { createHash, timingSafeEqual } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { WorkerConnection, WorkerRegistry } from '../worker-connection.ts'

const execFileAsync = promisify(execFile)

/**
 * A real Debian `buildbot-worker` (msgpack_experimental_v7) in a fresh folder, for tests.
 * `create-worker --force` keeps an old `buildbot.tac`, so every worker gets a new folder.
 */
export interface TestWorker {
  readonly name: string
  /** The worker's basedir (what `get_worker_info` reports). */
  readonly dir: string
  readonly process: ChildProcess
  /** Resolves when the twistd process has exited. */
  readonly exited: Promise<void>
  /** SIGKILL the worker process at once (a crash, as seen by the master). */
  kill(): void
  /** Stop the worker and delete its folder. */
  stop(): Promise<void>
}

function twistdCommand(): string {
  for (const cmd of ['twistd', 'twistd3']) {
    try {
      execFileSync(cmd, ['--version'], { stdio: 'ignore' })
      return cmd
    } catch { /* try the next name */ }
  }
  throw new Error('twistd not found (apt-get install -y buildbot-worker)')
}

export async function startTestWorker(opts: { port: number; name: string; password: string; host?: string }): Promise<TestWorker> {
  const root = await mkdtemp(join(tmpdir(), 'bbnix-worker-'))
  const dir = join(root, opts.name.replace(/[^A-Za-z0-9_.-]/g, '_'))
  await execFileAsync('buildbot-worker', [
    'create-worker', '--protocol=msgpack_experimental_v7', dir,
    `${opts.host ?? '127.0.0.1'}:${opts.port}`, opts.name, opts.password,
  ])
  const child = spawn(twistdCommand(), ['--nodaemon', '--no_save', '-y', 'buildbot.tac'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const running = () => child.exitCode === null && child.signalCode === null
  return {
    name: opts.name,
    dir,
    process: child,
    exited,
    kill() {
      if (running()) child.kill('SIGKILL')
    },
    async stop() {
      if (running()) {
        child.kill('SIGTERM')
        const force = setTimeout(() => child.kill('SIGKILL'), 5_000)
        await exited
        clearTimeout(force)
      }
      if (process.env.TEST_WORKER_DEBUG && stderr) console.error(stderr)
      await rm(root, { recursive: true, force: true })
    },
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

/** A small in-memory worker registry for tests: named passwords, live connections, attach waiters. */
export class TestRegistry implements WorkerRegistry {
  private readonly passwords = new Map<string, Buffer>()
  private readonly conns = new Map<string, WorkerConnection>()
  private readonly waiters = new Map<string, ((c: WorkerConnection) => void)[]>()
  /** Worker names in attach order. */
  readonly attached: string[] = []

  addWorker(name: string, password: string): this {
    this.passwords.set(name, digest(password))
    return this
  }

  authenticate(name: string, password: string): boolean {
    const want = this.passwords.get(name)
    const got = digest(password)
    // Compare even for unknown names so both cases take the same time.
    return timingSafeEqual(want ?? digest(`\0${password}`), got) && want !== undefined
  }

  connection(name: string): WorkerConnection | undefined {
    return this.conns.get(name)
  }

  async attach(conn: WorkerConnection): Promise<void> {
    this.conns.set(conn.workerName, conn)
    this.attached.push(conn.workerName)
    void conn.closed.then(() => {
      if (this.conns.get(conn.workerName) === conn) this.conns.delete(conn.workerName)
    })
    const ws = this.waiters.get(conn.workerName) ?? []
    this.waiters.delete(conn.workerName)
    for (const w of ws) w(conn)
  }

  /** The next connection of `name` to attach. */
  nextAttach(name: string): Promise<WorkerConnection> {
    return new Promise((resolve) => {
      const list = this.waiters.get(name) ?? []
      list.push(resolve)
      this.waiters.set(name, list)
    })
  }

  /** The live connection of `name`, or the next one to attach. */
  connected(name: string): Promise<WorkerConnection> {
    const c = this.conns.get(name)
    return c ? Promise.resolve(c) : this.nextAttach(name)
  }
}
