import { execFile } from 'node:child_process'
import { copyFile, readFile } from 'node:fs/promises'
import { isAbsolute, join, relative, resolve } from 'node:path'
import { EvalError } from './nix-evaluator.ts'
import type { NixVersion } from './nix-version.ts'

export interface FlakeRef {
  /** `git+file:///repo?dir=sub` for a tracked flake in a git tree, else `path:/dir`. */
  ref: string
  /** Extra flags for every flake command (`--reference-lock-file F` on nix that has it). */
  args: string[]
}

function git(cwd: string, args: string[]): Promise<string | undefined> {
  return new Promise((res) => {
    execFile('git', args, { cwd, timeout: 30_000 }, (err, stdout) => res(err ? undefined : stdout.trim()))
  })
}

/**
 * Chooses how nix reads the checkout. `git+file` keeps `self.rev`/`self.lastModified` and
 * ignores untracked files like nix-eval-jobs on a checkout; it cannot see an untracked flake.nix,
 * so such trees (and non-git dirs) use `path:`.
 *
 * A `lockFile` other than `flake.lock` (relative to flakeDir, or absolute) is passed as
 * `--reference-lock-file` when nix supports it. Older nix (2.8) has no such flag, so the file
 * is copied over `flake.lock` in the checkout instead: the checkout is a throw-away work tree
 * owned by the evaluation, and a tracked flake.lock edited this way is read by `git+file` as a
 * dirty file. If flake.lock is not tracked, `path:` is used so the copied file is seen.
 */
export async function resolveFlakeRef(flakeDir: string, lockFile: string | undefined, nix: Pick<NixVersion, 'hasReferenceLockFile'>): Promise<FlakeRef> {
  const dir = resolve(flakeDir)
  const root = await git(dir, ['rev-parse', '--show-toplevel'])
  const rel = root ? relative(root, dir) : ''
  const tracked = async (file: string): Promise<boolean> =>
    root !== undefined && (await git(root, ['ls-files', '--error-unmatch', '--', rel ? `${rel}/${file}` : file])) !== undefined
  let useGit = root !== undefined && (await tracked('flake.nix'))
  const args: string[] = []
  if (lockFile && lockFile !== 'flake.lock' && resolve(dir, lockFile) !== join(dir, 'flake.lock')) {
    const lockPath = isAbsolute(lockFile) ? lockFile : resolve(dir, lockFile)
    const text = await readFile(lockPath, 'utf8').catch(() => undefined)
    if (text === undefined) throw new EvalError(`lock file '${lockFile}' does not exist in ${dir}`)
    if (nix.hasReferenceLockFile) {
      args.push('--reference-lock-file', lockPath)
    } else {
      await copyFile(lockPath, join(dir, 'flake.lock'))
      if (useGit && !(await tracked('flake.lock'))) useGit = false
    }
  }
  const ref = useGit
    ? `git+file://${root}${rel ? `?dir=${encodeURIComponent(rel)}` : ''}`
    : `path:${dir}`
  return { ref, args }
}

/** Flags every evaluation passes (as buildbot-nix does for nix-eval-jobs). */
export const COMMON_EVAL_FLAGS: readonly string[] = [
  '--option', 'eval-cache', 'false',
  '--option', 'accept-flake-config', 'true',
  '--no-write-lock-file',
]
