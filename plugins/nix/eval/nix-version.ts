import { execFile } from 'node:child_process'
import { delimiter, join } from 'node:path'
import { accessSync, constants } from 'node:fs'

/** What the installed nix can do; probed once and passed around. */
export interface NixVersion {
  version: [number, number, number]
  /** `nix build --print-out-paths` (absent in 2.8). */
  hasPrintOutPaths: boolean
  /** `<drv>^*` installables selecting every output. */
  hasCaretStar: boolean
  /** `--reference-lock-file` on flake commands. */
  hasReferenceLockFile: boolean
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 30_000, maxBuffer: 8 << 20, env: { ...process.env, PAGER: 'cat', MANPAGER: 'cat' } },
      (err, stdout) => (err ? reject(err) : resolve(stdout)))
  })
}

/** Parses `nix (Nix) 2.8.0` (also `nix (Nix) 2.24.10pre…`, `nix (Lix, like Nix) 2.91.1`). */
export function parseNixVersion(text: string): [number, number, number] {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text)
  if (!m) throw new Error(`cannot parse the nix version from '${text.trim()}'`)
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)]
}

export function versionAtLeast(v: readonly number[], want: readonly number[]): boolean {
  for (let i = 0; i < want.length; i++) {
    if ((v[i] ?? 0) !== want[i]) return (v[i] ?? 0) > want[i]!
  }
  return true
}

/** Capabilities implied by a version alone (flag probing refines the first and last). */
export function capabilitiesOf(version: [number, number, number]): NixVersion {
  return {
    version,
    hasPrintOutPaths: versionAtLeast(version, [2, 9]),
    hasCaretStar: versionAtLeast(version, [2, 13]),
    hasReferenceLockFile: versionAtLeast(version, [2, 20]),
  }
}

/**
 * Runs `nix --version` (and the help of `nix build`/`nix eval` to check flags, since distro
 * builds and forks do not always follow upstream's version numbers).
 */
export async function probeNixVersion(nixBin = 'nix'): Promise<NixVersion> {
  const caps = capabilitiesOf(parseNixVersion(await run(nixBin, ['--version'])))
  const help = async (sub: string): Promise<string | undefined> => run(nixBin, [sub, '--help']).catch(() => undefined)
  const [buildHelp, evalHelp] = await Promise.all([help('build'), help('eval')])
  if (buildHelp !== undefined) caps.hasPrintOutPaths = buildHelp.includes('--print-out-paths')
  if (evalHelp !== undefined) caps.hasReferenceLockFile = evalHelp.includes('--reference-lock-file')
  return caps
}

/** The installable that builds every output of a `.drv`: `<drv>^*` where supported, else `<drv>`. */
export function buildInstallable(drvPath: string, version: Pick<NixVersion, 'hasCaretStar'>): string {
  return version.hasCaretStar ? `${drvPath}^*` : drvPath
}

/** The absolute path of an executable on PATH, or undefined. */
export function findOnPath(cmd: string, pathVar = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathVar.split(delimiter)) {
    if (!dir) continue
    const p = join(dir, cmd)
    try { accessSync(p, constants.X_OK); return p } catch { /* next */ }
  }
  return undefined
}

/** Whether `nix-eval-jobs` is on PATH (then it is preferred over the built-in evaluator). */
export function nixEvalJobsAvailable(pathVar?: string): boolean {
  return findOnPath('nix-eval-jobs', pathVar) !== undefined
}
