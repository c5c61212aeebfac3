import type { Logger } from '../../util/logger.ts'
import type { CommandListener, CommandResult, DirectoryWriter, FileReader, FileWriter } from '../worker-connection.ts'

const textDecoder = new TextDecoder()

/** `[text, [newline indexes], [times]]` (§4.2) → the text, which holds whole lines only. */
function lineText(v: unknown): string {
  const t = Array.isArray(v) ? v[0] : v
  if (typeof t === 'string') return t
  if (t instanceof Uint8Array) return textDecoder.decode(t)
  return ''
}

/**
 * One command started on a msgpack worker: folds its `update` messages into the listener and
 * the result, and settles once `complete` (plus a possibly late `rc`) arrived or the worker is lost.
 */
export class CommandRun {
  readonly id: string
  readonly name: string
  readonly writer: FileWriter | DirectoryWriter | undefined
  readonly reader: FileReader | undefined
  readonly done: Promise<CommandResult>
  interrupted = false

  private readonly listener: CommandListener
  private readonly lateRcMs: number
  private readonly log: Logger
  private readonly updates: Record<string, unknown> = {}
  private rc: number | undefined
  private elapsed: number | undefined
  private failureReason: string | undefined
  private completed = false
  private settled = false
  private lateRc: ReturnType<typeof setTimeout> | undefined
  private ioChain: Promise<unknown> = Promise.resolve()
  private resolve!: (r: CommandResult) => void
  private reject!: (e: Error) => void

  constructor(
    id: string,
    name: string,
    listener: CommandListener,
    writer: FileWriter | DirectoryWriter | undefined,
    reader: FileReader | undefined,
    lateRcMs: number,
    log: Logger,
  ) {
    this.id = id
    this.name = name
    this.listener = listener
    this.writer = writer
    this.reader = reader
    this.lateRcMs = lateRcMs
    this.log = log
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }

  /** Runs file operations of this command strictly in arrival order. */
  io<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.ioChain.then(fn)
    this.ioChain = next.catch(() => undefined)
    return next
  }

  applyUpdates(pairs: unknown[]): void {
    const l = this.listener
    for (const pair of pairs) {
      if (!Array.isArray(pair) || typeof pair[0] !== 'string') continue
      const key = pair[0]
      const value: unknown = pair[1]
      try {
        switch (key) {
          case 'stdout': l.output?.('o', lineText(value)); break
          case 'stderr': l.output?.('e', lineText(value)); break
          case 'header': l.output?.('h', lineText(value)); break
          case 'log':
            if (Array.isArray(value) && typeof value[0] === 'string') l.logfile?.(value[0], lineText(value[1]))
            break
          case 'rc':
            this.rc = Number(value)
            if (this.completed) this.finish()
            break
          case 'elapsed':
            this.elapsed = Number(value)
            break
          default:
            if (key === 'failure_reason') this.failureReason = String(value)
            this.updates[key] = value
            l.update?.(key, value)
        }
      } catch (err) {
        // A listener's bug must not break the worker's stream of updates.
        this.log.error({ err, key, command: this.name }, 'command listener threw')
      }
    }
  }

  complete(failure: unknown, workerName: string): void {
    if (this.completed || this.settled) return
    this.completed = true
    if (failure !== null && failure !== undefined) {
      this.fail(new Error(`command '${this.name}' failed on worker '${workerName}': ${String(failure)}`))
      return
    }
    if (this.rc !== undefined) this.finish()
    // The rc normally precedes `complete` on the same socket; wait briefly, as Buildbot does.
    else this.lateRc = setTimeout(() => this.finish(), this.lateRcMs)
  }

  fail(err: Error): void {
    if (this.settled) return
    this.settled = true
    if (this.lateRc) clearTimeout(this.lateRc)
    this.reject(err)
  }

  private finish(): void {
    if (this.settled) return
    this.settled = true
    if (this.lateRc) clearTimeout(this.lateRc)
    // No rc at all counts as a failure, as Buildbot's decodeRC does with `None`.
    const result: CommandResult = { rc: this.rc ?? -1, updates: this.updates }
    const reason = this.failureReason ?? (this.interrupted ? 'interrupted' : undefined)
    if (reason !== undefined) result.failureReason = reason
    if (this.elapsed !== undefined) result.elapsed = this.elapsed
    this.resolve(result)
  }
}
