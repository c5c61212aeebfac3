import type { Data } from '../data/data.ts'
import type { LogWriter } from './step.ts'

/** A log's text could not be stored: the output it held is lost, and the step must say so. */
export class LogWriteError extends Error {
  constructor(readonly logid: number, readonly cause: unknown) {
    super(`writing log ${logid} failed: ${cause instanceof Error ? cause.message : String(cause)}`)
    this.name = 'LogWriteError'
  }
}

/**
 * Streams text into a log as whole lines. Partial lines wait for their newline; whole lines are
 * written at most every `flushMs` (or sooner past `maxBuffered` bytes), so a chatty command costs
 * a few writes per second, and subscribers see output within `flushMs`.
 *
 * A failed write is reported once through `onError` as it happens, and `finish()` rejects with a
 * LogWriteError (after completing the log), so the step ends in EXCEPTION instead of losing
 * output silently.
 */
export function createLogWriter(data: Data, logid: number, type: string, opts: { flushMs?: number; maxBuffered?: number; redact?: (s: string) => string; onError?: (err: LogWriteError) => void } = {}): LogWriter {
  const flushMs = opts.flushMs ?? 25
  const maxBuffered = opts.maxBuffered ?? 64 * 1024
  const partial: Record<string, string> = {}
  let pending = ''
  let timer: NodeJS.Timeout | undefined
  let chain: Promise<void> = Promise.resolve()
  let failed: LogWriteError | undefined
  let finishing: Promise<void> | undefined

  const fail = (err: unknown) => {
    if (failed) return
    failed = err instanceof LogWriteError ? err : new LogWriteError(logid, err)
    try { opts.onError?.(failed) } catch { /* reporting must not break the chain */ }
  }
  const flush = () => {
    if (timer) { clearTimeout(timer); timer = undefined }
    if (!pending) return chain
    const text = opts.redact ? opts.redact(pending) : pending
    pending = ''
    chain = chain.then(() => data.logs.appendLog(logid, text)).catch(fail)
    return chain
  }
  const prefixed = (stream: string, lines: string) => {
    if (type !== 's') return lines
    let out = ''
    let start = 0
    for (let i = lines.indexOf('\n'); i !== -1; i = lines.indexOf('\n', start)) {
      out += stream + lines.slice(start, i + 1)
      start = i + 1
    }
    return out
  }

  return {
    logid,
    write(text: string, stream: 'o' | 'e' | 'h' = 'o') {
      if (finishing || !text) return
      const buf = (partial[stream] ?? '') + text.replace(/\r\n/g, '\n')
      const cut = buf.lastIndexOf('\n')
      if (cut === -1) { partial[stream] = buf; return }
      partial[stream] = buf.slice(cut + 1)
      pending += prefixed(stream, buf.slice(0, cut + 1))
      if (pending.length > maxBuffered) void flush()
      else if (!timer) timer = setTimeout(() => void flush(), flushMs)
    },
    finish() {
      finishing ??= (async () => {
        for (const [stream, rest] of Object.entries(partial)) if (rest) pending += prefixed(stream, rest + '\n')
        await flush()
        try { await data.logs.finishLog(logid) } catch (err) { fail(err) }
        if (failed) throw failed
      })()
      return finishing
    },
  }
}
