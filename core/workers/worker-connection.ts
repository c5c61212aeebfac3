/**
 * The one boundary between builds and the machines that run their commands. The in-process
 * local worker and a remote `buildbot-worker` (msgpack_experimental_v7) both implement it, so
 * every step runs on either.
 *
 * Commands and their args are Buildbot's worker commands in their msgpack form
 * (specs/buildbot-compat.md §4): `shell`, `upload_file`, `upload_directory`, `download_file`,
 * `mkdir`, `rmdir`, `cpdir`, `stat`, `glob`, `listdir`, `rmfile`. Paths in args (`workdir`,
 * `path`, `paths`, `from_path`, `to_path`) that are relative are resolved against
 * `builderDir(builderName)` by the connection.
 */
export type WorkerCommandName =
  | 'shell' | 'upload_file' | 'upload_directory' | 'download_file'
  | 'mkdir' | 'rmdir' | 'cpdir' | 'stat' | 'glob' | 'listdir' | 'rmfile'

export interface WorkerInfo {
  admin?: string
  host?: string
  access_uri?: string
  version?: string
  basedir?: string
  system?: string
  numcpus?: number
  environ?: Record<string, string>
  [key: string]: unknown
}

/** Receives the master side of a file upload (`upload_file`). */
export interface FileWriter {
  write(data: Uint8Array): void | Promise<void>
  utime?(accessTime: number, modifiedTime: number): void | Promise<void>
  close(): void | Promise<void>
}

/** Receives a tar stream (`upload_directory`), then `unpack()` extracts it. */
export interface DirectoryWriter {
  write(data: Uint8Array): void | Promise<void>
  unpack(): void | Promise<void>
}

/** Gives the bytes of a download (`download_file`); an empty array means end of file. */
export interface FileReader {
  read(maxLength: number): Uint8Array | Promise<Uint8Array>
  close(): void | Promise<void>
}

export interface RemoteCommand {
  name: WorkerCommandName
  /** The builder the command runs for: relative paths resolve under its directory. */
  builderName: string
  args: Record<string, unknown>
  writer?: FileWriter | DirectoryWriter
  reader?: FileReader
}

/** Streaming output of a running command. Text may hold partial lines. */
export interface CommandListener {
  output?(stream: 'o' | 'e' | 'h', text: string): void
  /** Output of a watched logfile (`logfiles` arg of `shell`). */
  logfile?(name: string, text: string): void
  /** Every other update key (`files`, `stat`, `failure_reason`, ...). */
  update?(key: string, value: unknown): void
}

export interface CommandResult {
  /** Exit code; negative or signal-derived when killed. */
  rc: number
  /** Non-output update keys as last received (`files`, `stat`, ...). */
  updates: Record<string, unknown>
  /** `timeout`, `timeout_without_output`, `max_lines_failure`, `interrupted`. */
  failureReason?: string
  /** Seconds, as the worker measured. */
  elapsed?: number
}

/** Thrown by `runCommand` when the worker goes away mid-command: the build ends in RETRY. */
export class WorkerLostError extends Error {
  constructor(workerName: string, reason: string) {
    super(`worker '${workerName}' lost: ${reason}`)
    this.name = 'WorkerLostError'
  }
}

export interface WorkerConnection {
  readonly workerName: string
  /** `get_worker_info` as the worker reported it. */
  readonly info: WorkerInfo
  /** Absolute path of a builder's directory on the worker. */
  builderDir(builderName: string): string
  /** Ensure the builders' directories exist (Buildbot's setBuilderList). */
  setBuilderList(builders: readonly { name: string; builddir: string }[]): Promise<void>
  /**
   * Run one command. Aborting `signal` interrupts it (the worker kills the process group) and
   * the promise still resolves with the rc. Rejects with `WorkerLostError` if the worker goes away.
   */
  runCommand(cmd: RemoteCommand, listener: CommandListener, signal?: AbortSignal): Promise<CommandResult>
  /** True if the worker answers (Buildbot pings before each build). */
  ping(): Promise<boolean>
  /** Resolves with the reason once the connection is gone. */
  readonly closed: Promise<string>
  /** Close the connection (`shutdown` asks the worker process to exit). */
  disconnect(reason: string, opts?: { shutdown?: boolean }): Promise<void>
}

/**
 * What a protocol listener needs from the master: password checks and attach/detach. The
 * worker manager implements it.
 */
export interface WorkerRegistry {
  /** Constant-time check of a configured worker's password; false for unknown names. */
  authenticate(name: string, password: string): boolean
  /** The live connection of a worker, if any. */
  connection(name: string): WorkerConnection | undefined
  /** A new connection finished its handshake; the manager marks it connected and uses it. */
  attach(conn: WorkerConnection): Promise<void>
}
