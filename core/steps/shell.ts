import type { Renderable } from '../properties/renderable.ts'
import type { StepContext, StepOptions, StepSpec } from '../process/step.ts'
import { FAILURE, SUCCESS, WARNINGS, type Result } from '../util/results.ts'

export interface ShellOptions extends StepOptions {
  command: string | Renderable | (string | Renderable)[] | Renderable<string[]>
  workdir?: string | Renderable<string>
  env?: Record<string, string | Renderable<string> | null>
  /** Seconds of total run time before the command is killed. */
  maxTime?: number
  /** Exit codes → results (default: 0 SUCCESS, anything else FAILURE). */
  decodeRC?: Record<number, Result>
  logEnviron?: boolean
  /** Watched files: log name → path relative to workdir. */
  logfiles?: Record<string, string>
}

export function describeCommand(cmd: unknown): string {
  return Array.isArray(cmd) ? cmd.map(String).join(' ') : String(cmd)
}

/** Runs a command on the worker and maps its exit code to a result. */
export function runShell(ctx: StepContext, opts: ShellOptions, command: unknown, extra: { collectStdout?: boolean; collectStderr?: boolean } = {}) {
  return (async () => {
    const workdir = opts.workdir == null ? 'build' : await ctx.render(opts.workdir)
    const env = opts.env ? await ctx.renderDeep(opts.env) : undefined
    const args: Record<string, unknown> = {
      command, workdir, env, timeout: opts.timeout ?? 1200, maxTime: opts.maxTime ?? null,
      logEnviron: opts.logEnviron ?? false, want_stdout: true, want_stderr: true,
    }
    if (opts.logfiles) args.logfiles = opts.logfiles
    return ctx.runCommand({ name: 'shell', args }, extra)
  })()
}

export function decode(rc: number, decodeRC?: Record<number, Result>): Result {
  if (decodeRC && rc in decodeRC) return decodeRC[rc]!
  return rc === 0 ? SUCCESS : FAILURE
}

export function shell(opts: ShellOptions): StepSpec {
  const name = opts.name ?? 'shell'
  return {
    kind: 'step', type: 'shell', name, options: opts,
    fingerprint: { command: String(opts.command), workdir: String(opts.workdir ?? ''), env: opts.env ? Object.keys(opts.env) : null },
    async run(ctx) {
      const command = await ctx.renderDeep(opts.command)
      // Redacted before it is cut: a secret cut in two would not be recognised any more.
      const shown = ctx.redact(describeCommand(command))
      await ctx.setStateString(`'${shown.slice(0, 60)}'`)
      const res = await runShell(ctx, opts, command)
      const result = decode(res.rc, opts.decodeRC)
      if (res.failureReason) await ctx.setStateString(`'${shown.slice(0, 50)}' (${res.failureReason})`)
      return result === WARNINGS ? WARNINGS : result
    },
  }
}
