import { mkdir } from 'node:fs/promises'
import { isAbsolute, join, resolve } from 'node:path'
import { hostname } from 'node:os'
import type { CommandListener, CommandResult, RemoteCommand, WorkerConnection, WorkerInfo } from '../worker-connection.ts'
import { runLocalShell, type ShellArgs } from './local-shell.ts'
import { runLocalFileCommand } from './local-file-commands.ts'
import { minimalEnvironment } from './minimal-environment.ts'

const PATH_ARGS = ['path', 'from_path', 'to_path', 'workdir'] as const

/** Builder directory names: Buildbot's default workerbuilddir, safe for the filesystem. */
export const builderDirName = (builderName: string) => builderName.replace(/[^a-zA-Z0-9_.-]/g, '_')

/**
 * A worker inside the master process: commands run as child processes of the master, each in its
 * own process group, under `<basedir>/<builder>`, with a minimal environment (see
 * minimal-environment.ts) and the names in `passEnvironment`, never the master's whole environment.
 */
export class LocalWorkerConnection implements WorkerConnection {
  readonly info: WorkerInfo
  readonly closed: Promise<string>
  private close!: (reason: string) => void
  private readonly basedir: string
  /** Process groups of running commands, killed if the master process exits under them. */
  private readonly groups = new Set<number>()
  private readonly killGroups = () => { for (const pid of this.groups) { try { process.kill(-pid, 'SIGKILL') } catch { /* gone */ } } }

  constructor(readonly workerName: string, basedir: string, public passEnvironment: readonly string[] = []) {
    this.basedir = resolve(basedir)
    this.info = { basedir: this.basedir, system: 'posix', host: hostname(), version: 'local', numcpus: 0, admin: null as unknown as string }
    this.closed = new Promise((r) => { this.close = r })
    process.on('exit', this.killGroups)
  }

  builderDir(builderName: string): string { return join(this.basedir, builderDirName(builderName)) }

  async setBuilderList(builders: readonly { name: string; builddir: string }[]): Promise<void> {
    await Promise.all(builders.map((b) => mkdir(join(this.basedir, b.builddir), { recursive: true })))
  }

  async runCommand(cmd: RemoteCommand, listener: CommandListener, signal?: AbortSignal): Promise<CommandResult> {
    const base = this.builderDir(cmd.builderName)
    const abs = (p: string) => (isAbsolute(p) ? p : join(base, p))
    const args: Record<string, unknown> = { ...cmd.args }
    for (const k of PATH_ARGS) if (typeof args[k] === 'string') args[k] = abs(args[k] as string)
    if (Array.isArray(args.paths)) args.paths = (args.paths as string[]).map(abs)
    if (cmd.name === 'shell') {
      await mkdir(args.workdir as string, { recursive: true })
      return runLocalShell(args as unknown as ShellArgs, listener, signal, this.groups, minimalEnvironment(process.env, this.passEnvironment))
    }
    const started = performance.now()
    const res = await runLocalFileCommand(cmd.name, args, listener, { writer: cmd.writer, reader: cmd.reader })
    return { ...res, elapsed: (performance.now() - started) / 1000 }
  }

  async ping(): Promise<boolean> { return true }

  async disconnect(reason: string): Promise<void> {
    process.off('exit', this.killGroups)
    this.close(reason)
  }
}
