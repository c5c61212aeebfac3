import { posix, win32 } from 'node:path'
import type { WorkerInfo } from '../worker-connection.ts'

const PATH_KEYS = ['workdir', 'path', 'from_path', 'to_path'] as const

/** Path rules of the worker's OS: `system` is Python's `os.name` (`posix` or `nt`). */
export function workerPath(info: WorkerInfo): typeof posix {
  return info.system === 'nt' ? win32 : posix
}

/** `~` and `~/x` against the worker's own HOME (Buildbot's `path_expand_user`); `~user` is left as is. */
export function expandUser(p: string, info: WorkerInfo): string {
  if (p[0] !== '~' || (p.length > 1 && p[1] !== '/' && p[1] !== '\\')) return p
  const env = info.environ ?? {}
  const home = info.system === 'nt' ? env.USERPROFILE ?? env.HOME : env.HOME
  return home ? home + p.slice(1) : p
}

/**
 * Master-side argument translation before `start_command` (specs/buildbot-compat.md §3.3.6):
 * every relative path key is made absolute against `baseDir` (the builder's directory), `~` is
 * expanded with the worker's environment, `want_stdout`/`want_stderr` become booleans, and the
 * master-only `writer`/`reader` keys are dropped. The input object is not modified.
 */
export function translateArgs(args: Record<string, unknown>, baseDir: string, info: WorkerInfo): Record<string, unknown> {
  const p = workerPath(info)
  const abs = (v: string) => {
    const e = expandUser(v, info)
    return p.isAbsolute(e) ? e : p.join(baseDir, e)
  }
  const out: Record<string, unknown> = { ...args }
  delete out.writer
  delete out.reader
  for (const key of PATH_KEYS) {
    const v = out[key]
    if (typeof v === 'string') out[key] = abs(v)
  }
  const paths = out.paths
  if (typeof paths === 'string') out.paths = [abs(paths)]
  else if (Array.isArray(paths)) out.paths = paths.map((x) => (typeof x === 'string' ? abs(x) : x))
  for (const key of ['want_stdout', 'want_stderr'] as const) {
    if (typeof out[key] === 'number') out[key] = out[key] !== 0
  }
  return out
}
