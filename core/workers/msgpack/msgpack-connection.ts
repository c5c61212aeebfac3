import { Decoder, Encoder } from '@msgpack/msgpack'
import type { WebSocket } from 'ws'
import type { Logger } from '../../util/logger.ts'
import {
  WorkerLostError,
  type CommandListener,
  type CommandResult,
  type DirectoryWriter,
  type FileReader,
  type FileWriter,
  type RemoteCommand,
  type WorkerConnection,
  type WorkerInfo,
} from '../worker-connection.ts'
import { translateArgs, workerPath } from './command-args.ts'
import { CommandRun } from './command-run.ts'

/** The four settings the worker requires in `set_worker_settings`. */
export interface WorkerSettings {
  buffer_size: number
  buffer_timeout: number
  newline_re: string
  max_line_length: number
}

export const DEFAULT_WORKER_SETTINGS: Readonly<WorkerSettings> = Object.freeze({
  buffer_size: 65536,
  buffer_timeout: 5,
  newline_re: String.raw`(\r\n|\r(?=.)|\033\[u|\033\[[0-9]+;[0-9]+[Hf]|\033\[2J|\x08+)`,
  max_line_length: 4096,
})

export interface MsgpackConnectionOptions {
  log: Logger
  /** Remote address, for log lines. */
  remote?: string
  /** Answer deadline for `print`/`get_worker_info`/`set_worker_settings`/`keepalive`/`ping`. */
  requestTimeoutMs?: number
  /** Interval of master keepalives (Buildbot: 3600 s). */
  keepaliveMs?: number
  /** How long `complete` waits for a late `rc` (Buildbot: 1 s). */
  lateRcMs?: number
  settings?: Partial<WorkerSettings>
}

type Msg = Record<string, unknown>

interface Pending {
  op: string
  resolve(v: unknown): void
  reject(e: Error): void
  timer?: ReturnType<typeof setTimeout>
}

function isMap(v: unknown): v is Msg {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
}

/**
 * The master's end of one `msgpack_experimental_v7` WebSocket (specs/buildbot-compat.md §3.3).
 * Each side numbers its own requests; responses are matched by `seq_number` and may arrive
 * after the `update`/`complete` messages of the command they started.
 */
export class MsgpackConnection implements WorkerConnection {
  readonly workerName: string
  info: WorkerInfo = {}
  readonly closed: Promise<string>

  private readonly ws: WebSocket
  private readonly log: Logger
  private readonly opts: MsgpackConnectionOptions
  private readonly encoder = new Encoder()
  private readonly decoder = new Decoder()
  private readonly pending = new Map<number, Pending>()
  private readonly runs = new Map<string, CommandRun>()
  private readonly builddirs = new Map<string, string>()
  private seq = 0
  private nextCommandId = 0
  private attached = false
  private closeReason: string | undefined
  private disconnectReason: string | undefined
  private socketError: string | undefined
  private keepalive: ReturnType<typeof setInterval> | undefined
  private resolveClosed!: (reason: string) => void

  constructor(ws: WebSocket, workerName: string, opts: MsgpackConnectionOptions) {
    this.ws = ws
    this.workerName = workerName
    this.opts = opts
    this.log = opts.log
    this.closed = new Promise((resolve) => { this.resolveClosed = resolve })
    ws.on('message', (data, isBinary) => this.onFrame(data as Buffer, isBinary))
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()))
    ws.on('error', (err) => {
      // ws closes the socket after an error (e.g. an oversized frame); keep why for the close reason.
      this.socketError = err.message
      this.log.warn({ err: err.message, remote: opts.remote }, 'worker socket error')
    })
  }

  /** §3.1 steps 3 and 5 minus the builder list: `print attached`, worker info, settings, keepalive. */
  async handshake(): Promise<void> {
    const t = this.opts.requestTimeoutMs ?? 30_000
    await this.request('print', { message: 'attached' }, t)
    const info = await this.request('get_worker_info', {}, t)
    if (!isMap(info)) throw new Error('get_worker_info did not answer with a map')
    this.info = info as WorkerInfo
    await this.request('set_worker_settings', { args: { ...DEFAULT_WORKER_SETTINGS, ...this.opts.settings } }, t)
    this.attached = true
    const every = this.opts.keepaliveMs ?? 3_600_000
    this.keepalive = setInterval(() => {
      this.request('keepalive', {}, t).catch((err: Error) => this.log.warn({ err: err.message }, 'worker keepalive failed'))
    }, every)
    this.keepalive.unref()
  }

  builderDir(builderName: string): string {
    const basedir = typeof this.info.basedir === 'string' ? this.info.basedir : ''
    const builddir = this.builddirs.get(builderName) ?? builderName.replace(/\//g, '_')
    return workerPath(this.info).join(basedir, builddir)
  }

  /** Buildbot's msgpack emulation (§3.3.4): `listdir` the basedir, then `mkdir` the missing ones. */
  async setBuilderList(builders: readonly { name: string; builddir: string }[]): Promise<void> {
    this.builddirs.clear()
    for (const b of builders) this.builddirs.set(b.name, b.builddir)
    const basedir = this.info.basedir
    if (typeof basedir !== 'string') throw new Error(`worker '${this.workerName}' did not report its basedir`)
    const listing = await this.start('listdir', { path: basedir }, {})
    const files = Array.isArray(listing.updates.files) ? new Set(listing.updates.files as unknown[]) : new Set<unknown>()
    const p = workerPath(this.info)
    const missing = builders
      .filter((b) => !files.has(b.builddir) || b.builddir.includes('/') || b.builddir.includes(p.sep))
      .map((b) => this.builderDir(b.name))
    if (missing.length === 0) return
    const made = await this.start('mkdir', { paths: missing }, {})
    if (made.rc !== 0) throw new Error(`worker '${this.workerName}' could not create builder directories (rc ${made.rc})`)
  }

  runCommand(cmd: RemoteCommand, listener: CommandListener, signal?: AbortSignal): Promise<CommandResult> {
    const args = translateArgs(cmd.args, this.builderDir(cmd.builderName), this.info)
    return this.start(cmd.name, args, listener, signal, cmd)
  }

  ping(message = 'ping'): Promise<boolean> {
    return this.request('print', { message }, this.opts.requestTimeoutMs ?? 10_000).then(() => true, () => false)
  }

  async disconnect(reason: string, opts: { shutdown?: boolean } = {}): Promise<void> {
    if (this.closeReason !== undefined) return
    this.disconnectReason ??= reason
    if (opts.shutdown) await this.request('shutdown', {}, 5_000).catch(() => undefined)
    // Close reasons are limited to 123 bytes on the wire.
    this.ws.close(1000, Buffer.from(reason).subarray(0, 120).toString())
    const force = setTimeout(() => this.ws.terminate(), 5_000)
    await this.closed
    clearTimeout(force)
  }

  private start(
    name: string,
    args: Msg,
    listener: CommandListener,
    signal?: AbortSignal,
    cmd?: RemoteCommand,
  ): Promise<CommandResult> {
    if (this.closeReason !== undefined) return Promise.reject(new WorkerLostError(this.workerName, this.closeReason))
    if (signal?.aborted) return Promise.resolve({ rc: -1, updates: {}, failureReason: 'interrupted' })
    const id = String(this.nextCommandId++)
    const run = new CommandRun(id, name, listener, cmd?.writer, cmd?.reader, this.opts.lateRcMs ?? 1_000, this.log)
    this.runs.set(id, run)
    const extra: Msg = { command_id: id, command_name: name, args }
    if (cmd) extra.builder_name = cmd.builderName
    this.request('start_command', extra).catch((err: Error) => run.fail(err))
    if (signal) {
      const onAbort = () => {
        run.interrupted = true
        const why = typeof signal.reason === 'string' ? signal.reason : 'interrupted by the master'
        const msg: Msg = { command_id: id, why }
        if (cmd) msg.builder_name = cmd.builderName
        this.request('interrupt_command', msg).catch((err: Error) => this.log.debug({ err: err.message, id }, 'interrupt_command failed'))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      run.done.finally(() => signal.removeEventListener('abort', onAbort)).catch(() => undefined)
    }
    run.done.finally(() => this.runs.delete(id)).catch(() => undefined)
    return run.done
  }

  private request(op: string, extra: Msg, timeoutMs?: number): Promise<unknown> {
    if (this.closeReason !== undefined) return Promise.reject(new WorkerLostError(this.workerName, this.closeReason))
    const seq = this.seq++
    return new Promise((resolve, reject) => {
      const p: Pending = { op, resolve, reject }
      if (timeoutMs !== undefined) {
        p.timer = setTimeout(() => {
          this.pending.delete(seq)
          reject(new Error(`worker '${this.workerName}' did not answer '${op}' within ${timeoutMs} ms`))
        }, timeoutMs)
      }
      this.pending.set(seq, p)
      this.send({ op, seq_number: seq, ...extra })
    })
  }

  private send(msg: Msg): void {
    this.ws.send(this.encoder.encode(msg))
  }

  private respond(seq: unknown, result: unknown, isException = false): void {
    if (this.closeReason !== undefined) return
    const msg: Msg = { op: 'response', seq_number: seq, result }
    if (isException) msg.is_exception = true
    this.send(msg)
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    if (!isBinary) {
      this.log.warn({ remote: this.opts.remote, bytes: data.length }, 'text frame from worker ignored')
      return
    }
    let msg: unknown
    try {
      msg = this.decoder.decode(data)
    } catch (err) {
      this.log.warn({ remote: this.opts.remote, bytes: data.length, err: (err as Error).message }, 'undecodable frame from worker dropped')
      return
    }
    if (!isMap(msg) || typeof msg.op !== 'string' || typeof msg.seq_number !== 'number') {
      this.log.warn({ remote: this.opts.remote }, 'frame without op or seq_number from worker dropped')
      return
    }
    if (msg.op === 'response') return this.onResponse(msg)
    if (!this.attached) return this.respond(msg.seq_number, 'Worker not authenticated.', true)
    this.onRequest(msg)
  }

  private onResponse(msg: Msg): void {
    const seq = msg.seq_number as number
    const p = this.pending.get(seq)
    if (!p) {
      this.log.debug({ seq }, 'response to no pending request')
      return
    }
    this.pending.delete(seq)
    if (p.timer) clearTimeout(p.timer)
    if (msg.is_exception) p.reject(new Error(`worker '${this.workerName}' failed '${p.op}': ${String(msg.result)}`))
    else p.resolve(msg.result)
  }

  private onRequest(msg: Msg): void {
    const seq = msg.seq_number
    const op = msg.op as string
    if (!OPS.has(op)) return this.respond(seq, `Command ${op} does not exist.`, true)
    if (!('command_id' in msg)) return this.respond(seq, 'message did not contain obligatory "command_id" key', true)
    const run = this.runs.get(String(msg.command_id))
    if (!run) return this.respond(seq, 'unknown "command_id"', true)
    const missing = OPS.get(op)!.find((k) => !(k in msg))
    if (missing) return this.respond(seq, `message did not contain obligatory "${missing}" key`, true)
    switch (op) {
      case 'update':
        if (Array.isArray(msg.args)) run.applyUpdates(msg.args)
        return this.respond(seq, null)
      case 'complete':
        run.complete(msg.args, this.workerName)
        return this.respond(seq, null)
      default:
        // File operations run one after another per command, each answered when done, which
        // is the worker's flow control.
        run.io(() => this.fileOp(op, msg, run.writer, run.reader)).then(
          (result) => this.respond(seq, result ?? null),
          (err: Error) => {
            this.log.warn({ op, err: err.message }, 'file transfer operation failed')
            this.respond(seq, err.message, true)
          },
        )
    }
  }

  private async fileOp(op: string, msg: Msg, writer?: FileWriter | DirectoryWriter, reader?: FileReader): Promise<unknown> {
    if (op.startsWith('update_upload_')) {
      if (!writer) throw new Error('command has no writer')
      switch (op) {
        case 'update_upload_file_write':
        case 'update_upload_directory_write':
          if (!(msg.args instanceof Uint8Array)) throw new Error('"args" is not binary data')
          return writer.write(msg.args)
        case 'update_upload_file_close':
          return (writer as FileWriter).close()
        case 'update_upload_file_utime':
          return (writer as FileWriter).utime?.(Number(msg.access_time), Number(msg.modified_time))
        case 'update_upload_directory_unpack':
          return (writer as DirectoryWriter).unpack()
      }
    }
    if (!reader) throw new Error('command has no reader')
    if (op === 'update_read_file_close') return reader.close()
    // Buildbot's master drops these bytes (every msgpack download is empty); we send them.
    return reader.read(Number(msg.length))
  }

  private onClose(code: number, reason: string): void {
    if (this.closeReason !== undefined) return
    const detail = reason || this.socketError
    const why = this.disconnectReason ?? `connection closed (code ${code}${detail ? `: ${detail}` : ''})`
    this.closeReason = why
    if (this.keepalive) clearInterval(this.keepalive)
    const lost = new WorkerLostError(this.workerName, why)
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer)
      p.reject(lost)
    }
    this.pending.clear()
    for (const run of this.runs.values()) run.fail(lost)
    this.runs.clear()
    this.log.info({ remote: this.opts.remote, reason: why }, 'worker disconnected')
    this.resolveClosed(why)
  }
}

/** Worker → master ops that name a command, with their other obligatory keys. */
const OPS: ReadonlyMap<string, readonly string[]> = new Map([
  ['update', ['args']],
  ['complete', ['args']],
  ['update_upload_file_write', ['args']],
  ['update_upload_file_close', []],
  ['update_upload_file_utime', ['access_time', 'modified_time']],
  ['update_upload_directory_write', ['args']],
  ['update_upload_directory_unpack', []],
  ['update_read_file', ['length']],
  ['update_read_file_close', []],
])
