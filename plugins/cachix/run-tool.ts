import { spawn } from 'node:child_process'
import { minimalEnvironment } from '../../core/index.ts'
import { PushError } from './binary-cache.ts'

/** How to install each tool, for the "not found" message. */
const INSTALL: Record<string, string> = {
  cachix: 'nix profile install nixpkgs#cachix',
  niks3: 'nix profile install github:Mic92/niks3',
  attic: 'nix profile install nixpkgs#attic-client',
  nix: 'apt-get install nix-bin',
}

export interface ToolRun {
  /** The program (a name looked up on PATH, or a path). */
  executable: string
  args: string[]
  /** Added to the minimal environment (PATH, HOME, nix's variables); never the master's whole environment. */
  env?: Record<string, string>
  signal: AbortSignal
}

/**
 * Runs a cache tool with argv (never a shell) and resolves with its stdout; a missing program,
 * a non-zero exit or a signal reject with a `PushError` carrying the end of its stderr.
 */
export function runTool(run: ToolRun): Promise<string> {
  return new Promise((resolve, reject) => {
    const tool = run.executable.split('/').pop() ?? run.executable
    const child = spawn(run.executable, run.args, { env: { ...minimalEnvironment(), ...run.env }, stdio: ['ignore', 'pipe', 'pipe'], signal: run.signal })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err = (err + d).slice(-4000) })
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') {
        const where = run.executable.includes('/') ? `'${run.executable}' does not exist` : `'${run.executable}' is not on PATH`
        reject(new PushError(`${where}: install it (${INSTALL[tool] ?? tool}) or set the cache's \`executable\` option to its path`))
      } else if (e.name === 'AbortError') reject(new PushError(`${tool} was stopped`))
      else reject(new PushError(`${tool} could not start: ${e.message}`))
    })
    child.on('close', (code, sig) => {
      if (code === 0) resolve(out)
      else if (code != null || sig) {
        const tail = err.trim().split('\n').slice(-6).join('\n')
        reject(new PushError(`${tool} ${run.args[0] ?? ''} ${sig ? `was killed (${sig})` : `exited with ${code}`}${tail ? `: ${tail}` : ''}`))
      }
    })
  })
}
