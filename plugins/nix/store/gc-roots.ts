import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { access, lstat, mkdir, readdir, readlink, rename, symlink, unlink } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * Garbage-collector roots that keep the latest output of each attribute alive: one symlink per
 * attribute in a per-project directory, registered with `nix-store --add-root <dir>/<attr> -r <out>`
 * (nix 2.8 and later register a root outside /nix/var/nix/gcroots indirectly by themselves;
 * `--indirect` is accepted and ignored).
 */

/**
 * The file name of an attribute's root, or of one of its other outputs (`<attr>!<output>`). `%`,
 * `/` and `!` are percent-encoded in the attribute and a leading `.` too, so no name can be `.`,
 * `..` or reach outside the directory, and the output suffix is unambiguous; other names stay
 * readable.
 */
export function gcRootName(attr: string, output?: string): string {
  if (!attr) throw new Error('an attribute name is needed for a GC root')
  if (attr.includes('\0')) throw new Error(`attribute ${JSON.stringify(attr)} contains a NUL byte`)
  const name = attr.replace(/%/g, '%25').replace(/\//g, '%2F').replace(/!/g, '%21').replace(/^\./, '%2E')
  if (output === undefined) return name
  if (!/^[A-Za-z0-9_+.-]+$/.test(output)) throw new Error(`output name ${JSON.stringify(output)} of ${attr} is not a valid derivation output name`)
  return `${name}!${output}`
}

/** The attribute of a root file name (inverse of `gcRootName`; an output suffix is dropped). */
export function attrOfGcRootName(name: string): string {
  const bang = name.indexOf('!')
  return (bang >= 0 ? name.slice(0, bang) : name).replace(/%2E/g, '.').replace(/%21/g, '!').replace(/%2F/g, '/').replace(/%25/g, '%')
}

/** One output of an attribute to keep alive: `output` is undefined for the primary one. */
export interface OutputRoot { output?: string; path: string }

/**
 * The outputs of an attribute as roots: the primary output (`out`, else the first) under the
 * attribute's own name, as before multi-output support, and every other output as `<attr>!<output>`.
 */
export function outputRoots(outputs: Record<string, string | null>): OutputRoot[] {
  const named = Object.entries(outputs).filter((e): e is [string, string] => !!e[1])
  if (!named.length) return []
  const primary = named.find(([n]) => n === 'out') ?? named[0]!
  return [{ path: primary[1] }, ...named.filter((e) => e !== primary).map(([output, path]) => ({ output, path }))]
}

/** Where the root of `attr` lives. */
export function gcRootPath(dir: string, attr: string, output?: string): string {
  return join(dir, gcRootName(attr, output))
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
export async function prepareGcRoot(dir: string, attr: string, outPath: string, output?: string): Promise<'unchanged' | { path: string; existed: boolean }> {
  if (!outPath.startsWith('/')) throw new Error(`'${outPath}' is not a store path`)
  const path = gcRootPath(dir, attr, output)
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

const NIX_BASE32 = '0123456789abcdfghijklmnpqrsvwxyz'

/** Nix's base-32 form of a hash (the alphabet and order of store path names). */
export function nixBase32(hash: Uint8Array): string {
  const len = Math.ceil((hash.length * 8) / 5)
  let s = ''
  for (let n = len - 1; n >= 0; n--) {
    const b = n * 5
    const i = b >> 3
    const j = b & 7
    const c = (hash[i]! >> j) | (i + 1 < hash.length ? hash[i + 1]! << (8 - j) : 0)
    s += NIX_BASE32[c & 0x1f]
  }
  return s
}

/** The directory of indirect roots (`<state dir>/gcroots/auto`), honouring NIX_STATE_DIR. */
export function autoRootsDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.NIX_STATE_DIR ?? '/nix/var/nix', 'gcroots', 'auto')
}

/** Whether this process may add indirect roots itself (root, or a single-user store it owns). */
export async function canAddIndirectRoots(dir = autoRootsDir()): Promise<boolean> {
  return access(dir, constants.W_OK).then(() => true, () => false)
}

/** Replaces (or creates) the symlink `path` → `target` atomically. */
async function atomicSymlink(target: string, path: string): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`
  await symlink(target, tmp)
  await rename(tmp, path).catch(async (err: Error) => { await unlink(tmp).catch(() => undefined); throw err })
}

/**
 * Points the root symlink `path` at the valid store path `outPath` without running nix: the
 * symlink is replaced atomically and, when `autoDir` is given, registered as an indirect root
 * the way `nix-store --add-root` does (a link in `gcroots/auto` named by the SHA-1 of `path`).
 * A root that existed before is already registered.
 */
export async function pointGcRoot(path: string, outPath: string, autoDir?: string): Promise<void> {
  await atomicSymlink(outPath, path)
  if (!autoDir) return
  const link = join(autoDir, nixBase32(createHash('sha1').update(path).digest()))
  if ((await readlink(link).catch(() => undefined)) !== path) await atomicSymlink(path, link)
}

/**
 * Removes the roots of attributes not in `current` (all their outputs); other files are left
 * alone. Returns the attrs removed.
 */
export async function removeStaleGcRoots(dir: string, current: Iterable<string>): Promise<string[]> {
  const keep = new Set([...current].map((a) => gcRootName(a)))
  const names = await readdir(dir).catch(() => [] as string[])
  const removed = new Set<string>()
  for (const name of names.sort()) {
    const bang = name.indexOf('!')
    if (keep.has(bang >= 0 ? name.slice(0, bang) : name)) continue
    const st = await lstat(join(dir, name)).catch(() => undefined)
    if (!st?.isSymbolicLink()) continue
    await unlink(join(dir, name))
    removed.add(attrOfGcRootName(name))
  }
  return [...removed]
}
