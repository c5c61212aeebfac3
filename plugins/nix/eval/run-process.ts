import { spawn } from 'node:child_process'
import { createLineSplitter } from './line-splitter.ts'
import { findOnPath } from './nix-version.ts'
import { minimalEnvironment } from '../../../core/index.ts'

export interface RunOptions {
  cwd?: string
  /** Default: core's minimal build environment (never the master's whole environment). */
  env?: NodeJS.ProcessEnv
  /**
   * Memory cap: the Boehm GC heap of nix (`GC_MAXIMUM_HEAP_SIZE`) plus, when `prlimit` exists,
   * an address-space limit with headroom for code and non-GC allocations.
   */
  maxMemoryMiB?: number
  signal?: AbortSignal
  onStdoutLine?(line: string): void
  onStderrLine?(line: string): void
  /** Keep stdout in `RunResult.stdout` (default true). */
  collectStdout?: boolean
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  /** The last lines of stderr. */
  stderrTail: string
  aborted: boolean
  /** stderr shows an allocation failure. */
  outOfMemory: boolean
}

const ADDRESS_SPACE_HEADROOM_MIB = 512
const STDERR_TAIL_LINES = 60
const OOM = /out of memory|Out of Memory|failed to map segment|std::bad_alloc|Cannot allocate memory/

/** Runs a command, streaming its lines; resolves on exit (never rejects on a non-zero exit). */
export function runProcess(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  let file = cmd
  let argv = args
  const env: NodeJS.ProcessEnv = { ...(opts.env ?? minimalEnvironment()) }
  if (opts.maxMemoryMiB) {
    env.GC_MAXIMUM_HEAP_SIZE = String(opts.maxMemoryMiB * 1024 * 1024)
    const prlimit = findOnPath('prlimit', env.PATH)
    if (prlimit) {
      file = prlimit
      argv = [`--as=${(opts.maxMemoryMiB + ADDRESS_SPACE_HEADROOM_MIB) * 1024 * 1024}`, '--', cmd, ...args]
    }
  }
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      resolve({ code: null, signal: null, stdout: '', stderrTail: '', aborted: true, outOfMemory: false })
      return
    }
    const child = spawn(file, argv, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    const collect = opts.collectStdout !== false
    const out: string[] = []
    const tail: string[] = []
    let oom = false
    let aborted = false
    const outLines = createLineSplitter()
    const errLines = createLineSplitter()
    const onErr = (line: string): void => {
      if (OOM.test(line)) oom = true
      tail.push(line)
      if (tail.length > STDERR_TAIL_LINES) tail.shift()
      opts.onStderrLine?.(line)
    }
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stdout.on('data', (d: string) => {
      if (collect) out.push(d)
      if (opts.onStdoutLine) for (const l of outLines.push(d)) opts.onStdoutLine(l)
    })
    child.stderr.on('data', (d: string) => { for (const l of errLines.push(d)) onErr(l) })
    const onAbort = (): void => { aborted = true; child.kill('SIGKILL') }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    child.on('error', (e) => { opts.signal?.removeEventListener('abort', onAbort); reject(e) })
    child.on('close', (code, sig) => {
      opts.signal?.removeEventListener('abort', onAbort)
      if (opts.onStdoutLine) for (const l of outLines.end()) opts.onStdoutLine(l)
      for (const l of errLines.end()) onErr(l)
      resolve({ code, signal: sig, stdout: out.join(''), stderrTail: tail.join('\n'), aborted, outOfMemory: oom })
    })
  })
}

/** The error text of a failed nix command: its `error:` block, or the stderr tail. */
export function nixErrorText(stderrTail: string): string {
  const lines = stderrTail.split('\n')
  const start = lines.findIndex((l) => /^error\b/.test(l.replace(/\x1b\[[0-9;]*m/g, '')))
  // eslint-disable-next-line no-control-regex
  return (start >= 0 ? lines.slice(start) : lines).join('\n').replace(/\x1b\[[0-9;]*m/g, '').trim()
}
