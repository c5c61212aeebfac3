import { spawn } from 'node:child_process'
import { minimalEnvironment } from '../../core/index.ts'

export interface ProcessOptions {
  cwd?: string
  /** Default: core's minimal environment (never the caller's whole environment). */
  env?: NodeJS.ProcessEnv
  signal?: AbortSignal
  /** Output as it arrives (chunks, not lines). */
  onOutput?(text: string, stream: 'o' | 'e'): void
  /** Keep stdout (default true). */
  collectStdout?: boolean
}

export interface ProcessResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  /** The last 16 KiB of stderr. */
  stderr: string
  aborted: boolean
}

const STDERR_KEEP = 16 * 1024

/** Runs a command in its own process group (killed as a group on abort); never rejects on a non-zero exit. */
export function runProcess(cmd: string, args: string[], opts: ProcessOptions = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) { resolve({ code: null, signal: null, stdout: '', stderr: '', aborted: true }); return }
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? minimalEnvironment(), stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    const out: Buffer[] = []
    let err = ''
    let aborted = false
    const kill = (): void => {
      aborted = true
      try { if (child.pid) process.kill(-child.pid, 'SIGKILL') } catch { child.kill('SIGKILL') }
    }
    opts.signal?.addEventListener('abort', kill, { once: true })
    child.stdout.on('data', (b: Buffer) => {
      if (opts.collectStdout !== false) out.push(b)
      opts.onOutput?.(b.toString('utf8'), 'o')
    })
    child.stderr.on('data', (b: Buffer) => {
      const s = b.toString('utf8')
      err = (err + s).slice(-STDERR_KEEP)
      opts.onOutput?.(s, 'e')
    })
    child.on('error', (e) => { opts.signal?.removeEventListener('abort', kill); reject(e) })
    child.on('close', (code, signal) => {
      opts.signal?.removeEventListener('abort', kill)
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: err, aborted })
    })
  })
}
