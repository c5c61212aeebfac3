import { spawn } from 'node:child_process'
import type { CommandListener, CommandResult } from '../worker-connection.ts'
import { minimalEnvironment } from './minimal-environment.ts'

export interface ShellArgs {
  command: string | (string | [string, string, string])[]
  workdir: string
  env?: Record<string, string | string[] | null>
  timeout?: number | null
  maxTime?: number | null
  logEnviron?: boolean
  initial_stdin?: string | null
  sigtermTime?: number | null
}

/** Buildbot's `obfuscated` command items: run the real value, show the shown one. */
const real = (c: string | [string, string, string]) => (Array.isArray(c) ? c[1] : c)
const shown = (c: string | [string, string, string]) => (Array.isArray(c) ? c[2] : c)

/** The build's base environment with the step's `env` on top (`${NAME}` expands from the base). */
function buildEnv(base: Record<string, string>, extra: ShellArgs['env']): Record<string, string> {
  const env: Record<string, string> = { ...base }
  for (const [k, v] of Object.entries(extra ?? {})) {
    if (v == null) { delete env[k]; continue }
    const value = Array.isArray(v) ? v.join(':') : v
    env[k] = value.replace(/\$\{(\w+)\}/g, (_m, name: string) => base[name] ?? '')
  }
  return env
}

/**
 * Runs a `shell` command in-process: its own process group, killed as a group on interrupt,
 * on `timeout` seconds without output and on `maxTime` seconds in all. Its environment is
 * `baseEnv` (default: the minimal one, never the master's whole environment) plus the step's `env`.
 */
export async function runLocalShell(args: ShellArgs, listener: CommandListener, signal?: AbortSignal, groups?: Set<number>, baseEnv: Record<string, string> = minimalEnvironment()): Promise<CommandResult> {
  const started = performance.now()
  const cmd = args.command
  const file = typeof cmd === 'string' ? '/bin/sh' : real(cmd[0]!)
  const argv = typeof cmd === 'string' ? ['-c', cmd] : cmd.slice(1).map(real)
  const display = typeof cmd === 'string' ? cmd : cmd.map(shown).join(' ')
  listener.output?.('h', `${display}\n in dir ${args.workdir}\n`)
  const env = buildEnv(baseEnv, args.env)
  if (args.logEnviron) listener.output?.('h', ' environment:\n' + Object.entries(env).map(([k, v]) => `  ${k}=${v}\n`).join(''))

  let failureReason: string | undefined
  // Plain spawn (not execa): this runs once per shell step, and execa's extra machinery doubled
  // the master's CPU per trivial build. `groups` lets the worker kill what is left on exit.
  const child = spawn(file, argv, { cwd: args.workdir, env, detached: true, stdio: [args.initial_stdin != null ? 'pipe' : 'ignore', 'pipe', 'pipe'] })
  let startError: Error | undefined
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (err) => { startError ??= err; if (child.pid == null) resolve({ code: null, signal: null }) })
    child.once('close', (code, sig) => resolve({ code, signal: sig }))
  })
  if (child.pid != null) groups?.add(child.pid)
  if (args.initial_stdin != null) { child.stdin?.on('error', () => { /* the command did not read it all */ }); child.stdin?.end(args.initial_stdin) }

  const killGroup = (reason: string) => {
    if (!failureReason) failureReason = reason
    const pid = child.pid
    if (pid == null) return
    const hard = () => { try { process.kill(-pid, 'SIGKILL') } catch { /* already gone */ } }
    if (args.sigtermTime) {
      try { process.kill(-pid, 'SIGTERM') } catch { /* already gone */ }
      setTimeout(hard, args.sigtermTime * 1000).unref()
    } else hard()
  }

  let silentTimer: NodeJS.Timeout | undefined
  const armSilent = () => {
    if (!args.timeout) return
    if (silentTimer) silentTimer.refresh()
    else silentTimer = setTimeout(() => killGroup('timeout_without_output'), args.timeout * 1000)
  }
  armSilent()
  const maxTimer = args.maxTime ? setTimeout(() => killGroup('timeout'), args.maxTime * 1000) : undefined
  const onAbort = () => killGroup('interrupted')
  if (signal?.aborted) onAbort()
  signal?.addEventListener('abort', onAbort, { once: true })

  child.stdout?.setEncoding('utf8').on('data', (d: string) => { armSilent(); listener.output?.('o', d) })
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { armSilent(); listener.output?.('e', d) })

  const res = await exited
  if (child.pid != null) groups?.delete(child.pid)
  if (silentTimer) clearTimeout(silentTimer)
  if (maxTimer) clearTimeout(maxTimer)
  signal?.removeEventListener('abort', onAbort)
  let rc = res.code ?? -1
  if (res.signal) {
    listener.output?.('h', `process killed by signal ${res.signal}\n`)
    rc = -1
  } else if (startError && res.code == null) {
    listener.output?.('e', `${startError.message}\n`)
    rc = -1
  }
  if (failureReason === 'timeout_without_output') listener.output?.('h', `command timed out: ${args.timeout} seconds without output, attempting to kill\n`)
  if (failureReason === 'timeout') listener.output?.('h', `command timed out: ${args.maxTime} seconds elapsed, attempting to kill\n`)
  const result: CommandResult = { rc, updates: {}, elapsed: (performance.now() - started) / 1000 }
  if (failureReason) result.failureReason = failureReason
  return result
}
