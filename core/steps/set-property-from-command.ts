import type { StepSpec } from '../process/step.ts'
import { decode, runShell, type ShellOptions } from './shell.ts'
import { FAILURE, SUCCESS } from '../util/results.ts'

export interface SetPropertyFromCommandOptions extends ShellOptions {
  property?: string
  /** Turns (rc, stdout, stderr) into properties, instead of `property`. */
  extract?: (rc: number, stdout: string, stderr: string) => Record<string, unknown>
  strip?: boolean
  includeStderr?: boolean
}

export function setPropertyFromCommand(opts: SetPropertyFromCommandOptions): StepSpec {
  return {
    kind: 'step', type: 'setPropertyFromCommand', name: opts.name ?? 'set property from command', options: opts,
    fingerprint: { command: String(opts.command), property: opts.property ?? null },
    async run(ctx) {
      const command = await ctx.renderDeep(opts.command)
      const res = await runShell(ctx, opts, command, { collectStdout: true, collectStderr: !!opts.includeStderr })
      const result = decode(res.rc, opts.decodeRC)
      if (opts.extract) {
        const props = opts.extract(res.rc, res.stdout, res.stderr)
        for (const [k, v] of Object.entries(props)) await ctx.setProperty(k, v, 'SetPropertyFromCommand Step')
      } else if (opts.property && result === SUCCESS) {
        let out = opts.includeStderr ? res.stdout + res.stderr : res.stdout
        if (opts.strip !== false) out = out.trim()
        await ctx.setProperty(opts.property, out, 'SetPropertyFromCommand Step')
      }
      return result === SUCCESS ? SUCCESS : FAILURE
    },
  }
}
