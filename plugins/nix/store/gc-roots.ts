import { execFile } from 'node:child_process'
import { lstat, mkdir, readdir, readlink, unlink } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Garbage-collector roots that keep the latest output of each attribute alive: one symlink per
 * attribute in a per-project directory, registered with `nix-store --add-root <dir>/<attr> -r <out>`
 * (nix 2.8 and later register a root outside /nix/var/nix/gcroots indirectly by themselves;
 * `--indirect` is accepted and ignored).
 */

/**
 * The file name of an attribute's root. `%` and `/` are percent-encoded and a leading `.` too,
 * so no name can be `.`, `..` or reach outside the directory; other names stay readable.
 */
export function gcRootName(attr: string): string {
  if (!attr) throw new Error('an attribute name is needed for a GC root')
  if (attr.includes('\0')) throw new Error(`attribute ${JSON.stringify(attr)} contains a NUL byte`)
  return attr.replace(/%/g, '%25').replace(/\//g, '%2F').replace(/^\./, '%2E')
}

/** The attribute of a root file name (inverse of `gcRootName`). */
export function attrOfGcRootName(name: string): string {
  return name.replace(/%2E/g, '.').replace(/%2F/g, '/').replace(/%25/g, '%')
}

/** Where the root of `attr` lives. */
export function gcRootPath(dir: string, attr: string): string {
  return join(dir, gcRootName(attr))
}

/** The store path the root of `attr` points at, or undefined when there is no root. */
export async function gcRootTarget(dir: string, attr: string): Promise<string | undefined> {
  return readlink(gcRootPath(dir, attr)).catch(() => undefined)
}

/** Whether the root of `attr` already points at `outPath` (then registering is not needed). */
export async function gcRootPointsAt(dir: string, attr: string, outPath: string): Promise<boolean> {
  return (await gcRootTarget(dir, attr)) === outPath
}

export interface RegisterOptions {
  nixStore?: string
  signal?: AbortSignal
}

/**
 * Checks a root before it is (re)pointed at `outPath`: `unchanged` when it already points there;
 * otherwise its path and whether something was there. A file or directory that is not a symlink
 * at the root path is an error telling what to remove.
 */
export async function prepareGcRoot(dir: string, attr: string, outPath: string): Promise<'unchanged' | { path: string; existed: boolean }> {
  if (!outPath.startsWith('/')) throw new Error(`'${outPath}' is not a store path`)
  const path = gcRootPath(dir, attr)
  await mkdir(dir, { recursive: true })
  const st = await lstat(path).catch(() => undefined)
  if (st && !st.isSymbolicLink()) {
    throw new Error(`cannot register a GC root for '${attr}': ${path} exists and is not a symlink (a ${st.isDirectory() ? 'directory' : 'file'}); remove it by hand`)
  }
  if (st && (await readlink(path)) === outPath) return 'unchanged'
  return { path, existed: !!st }
}

/**
 * Makes the root of `attr` point at `outPath`. Returns `unchanged` when it already did. A file or
 * directory that is not a symlink at the root path is never replaced: that is an error telling
 * what to remove.
 */
export async function registerGcRoot(dir: string, attr: string, outPath: string, opts: RegisterOptions = {}): Promise<'created' | 'updated' | 'unchanged'> {
  const check = await prepareGcRoot(dir, attr, outPath)
  if (check === 'unchanged') return check
  const { path } = check
  await new Promise<void>((resolve, reject) => {
    execFile(opts.nixStore ?? 'nix-store', ['--add-root', path, '-r', outPath], { signal: opts.signal }, (err, _out, stderr) =>
      err ? reject(new Error(`nix-store --add-root ${path} -r ${outPath} failed: ${String(stderr).trim() || err.message}`)) : resolve())
  })
  return check.existed ? 'updated' : 'created'
}

/** Removes the roots of attributes not in `current`; other files are left alone. Returns the attrs removed. */
export async function removeStaleGcRoots(dir: string, current: Iterable<string>): Promise<string[]> {
  const keep = new Set([...current].map(gcRootName))
  const names = await readdir(dir).catch(() => [] as string[])
  const removed: string[] = []
  for (const name of names.sort()) {
    if (keep.has(name)) continue
    const st = await lstat(join(dir, name)).catch(() => undefined)
    if (!st?.isSymbolicLink()) continue
    await unlink(join(dir, name))
    removed.push(attrOfGcRootName(name))
  }
  return removed
}
