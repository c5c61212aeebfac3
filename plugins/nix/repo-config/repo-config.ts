import { existsSync, realpathSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { isAbsolute, join, relative, resolve, sep } from 'node:path'
import { parse } from 'smol-toml'

/** Per-repository settings from `buildbot-nix.toml` at the root of the checked-out tree. */
export interface RepoConfig {
  /** Directory of the flake, relative to the repository root. */
  flakeDir: string
  /** Lock file, relative to flakeDir; evaluated in place of flake.lock when different. */
  lockFile: string
  /** Flake attribute to evaluate (`checks`, `hydraJobs`, `ci.buildbot`, …). */
  attribute: string
  /** Run effects for pull requests too (read only from the default branch). */
  effectsOnPullRequests: boolean
  /** Extra pushed branches (globs) that run effects (read only from the default branch). */
  effectsBranches: string[]
}

export interface RepoConfigWarning {
  /** The TOML key concerned, absent for a file that does not parse. */
  key?: string
  /** What is wrong, what was used instead and how to fix it. */
  message: string
}

export interface RepoConfigResult {
  config: RepoConfig
  warnings: RepoConfigWarning[]
}

export interface RepoConfigOptions {
  /** The checkout root; flake_dir and lock_file must resolve inside it. */
  checkoutRoot: string
  /** Whether the tree is the default branch: only then are the effects keys taken. */
  isDefaultBranch: boolean
}

export const REPO_CONFIG_FILE = 'buildbot-nix.toml'

export const DEFAULT_REPO_CONFIG: Readonly<RepoConfig> = Object.freeze({
  flakeDir: '.', lockFile: 'flake.lock', attribute: 'checks', effectsOnPullRequests: false, effectsBranches: [],
})

const KEYS = ['flake_dir', 'lock_file', 'attribute', 'effects_on_pull_requests', 'effects_branches'] as const

const typeName = (v: unknown): string => (Array.isArray(v) ? 'array' : v instanceof Date ? 'date' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'float') : typeof v)

/** Whether `rel` (relative to `base`) stays inside `root`, following symlinks that exist. */
function staysInside(root: string, base: string, rel: string): boolean {
  const realRoot = existsSync(root) ? realpathSync(root) : resolve(root)
  let target = resolve(base, rel)
  // Resolve the longest existing prefix, so a symlink pointing outside is caught.
  let rest = ''
  while (!existsSync(target)) {
    const parent = resolve(target, '..')
    if (parent === target) break
    rest = rest ? join(target.slice(parent.length + 1), rest) : target.slice(parent.length + 1)
    target = parent
  }
  const real = join(existsSync(target) ? realpathSync(target) : target, rest)
  const r = relative(realRoot, real)
  return r === '' || (!r.startsWith('..' + sep) && r !== '..' && !isAbsolute(r))
}

/**
 * Parses the text of `buildbot-nix.toml` (undefined: no file). Bad TOML, wrong types, unsafe
 * paths and unknown keys give warnings and the default for the key concerned, never an error,
 * so a broken file does not stop the build.
 */
export function parseRepoConfig(text: string | undefined, opts: RepoConfigOptions): RepoConfigResult {
  const config: RepoConfig = { ...DEFAULT_REPO_CONFIG, effectsBranches: [] }
  const warnings: RepoConfigWarning[] = []
  if (text === undefined) return { config, warnings }
  let doc: Record<string, unknown>
  try {
    doc = parse(text) as Record<string, unknown>
  } catch (e) {
    warnings.push({ message: `${REPO_CONFIG_FILE} is not valid TOML, using the defaults: ${(e as Error).message.split('\n')[0]}. Fix the syntax (see https://toml.io).` })
    return { config, warnings }
  }
  const warn = (key: string, message: string): void => { warnings.push({ key, message: `${REPO_CONFIG_FILE}: ${message}` }) }
  const wrongType = (key: string, want: string, example: string, dflt: unknown): void =>
    warn(key, `'${key}' must be ${want}, got ${typeName(doc[key])}; using ${JSON.stringify(dflt)}. Fix: ${example}`)

  for (const key of Object.keys(doc)) {
    if (!(KEYS as readonly string[]).includes(key)) warn(key, `unknown key '${key}' is ignored; known keys: ${KEYS.join(', ')}. Fix: remove it or correct its spelling`)
  }
  const flakeDir = doc.flake_dir
  if (flakeDir !== undefined) {
    if (typeof flakeDir !== 'string') wrongType('flake_dir', 'a string', 'flake_dir = "nix"', '.')
    else if (flakeDir.includes(':')) warn('flake_dir', `'flake_dir' must not contain ':' (got ${JSON.stringify(flakeDir)}); using ".". Fix: give a plain directory path`)
    else if (flakeDir === '' || isAbsolute(flakeDir) || !staysInside(opts.checkoutRoot, opts.checkoutRoot, flakeDir)) warn('flake_dir', `'flake_dir' ${JSON.stringify(flakeDir)} is not a directory inside the repository; using ".". Fix: a relative path below the repository root`)
    else config.flakeDir = flakeDir
  }
  const lockFile = doc.lock_file
  if (lockFile !== undefined) {
    const base = resolve(opts.checkoutRoot, config.flakeDir)
    if (typeof lockFile !== 'string') wrongType('lock_file', 'a string', 'lock_file = "ci/flake.lock"', 'flake.lock')
    else if (lockFile === '' || lockFile.includes(':') || isAbsolute(lockFile) || !staysInside(opts.checkoutRoot, base, lockFile)) warn('lock_file', `'lock_file' ${JSON.stringify(lockFile)} is not a file inside the repository; using "flake.lock". Fix: a path relative to flake_dir`)
    else config.lockFile = lockFile
  }
  const attribute = doc.attribute
  if (attribute !== undefined) {
    if (typeof attribute !== 'string') wrongType('attribute', 'a string', 'attribute = "hydraJobs"', 'checks')
    else if (!/^[A-Za-z_][A-Za-z0-9_'-]*(\.[A-Za-z0-9_'-]+)*$/.test(attribute)) warn('attribute', `'attribute' ${JSON.stringify(attribute)} is not a flake attribute path; using "checks". Fix: e.g. attribute = "ci.buildbot"`)
    else config.attribute = attribute
  }
  const onPr = doc.effects_on_pull_requests
  if (onPr !== undefined && typeof onPr !== 'boolean') wrongType('effects_on_pull_requests', 'a boolean', 'effects_on_pull_requests = true', false)
  else if (onPr !== undefined && opts.isDefaultBranch) config.effectsOnPullRequests = onPr
  const branches = doc.effects_branches
  if (branches !== undefined && !(Array.isArray(branches) && branches.every((b) => typeof b === 'string'))) {
    wrongType('effects_branches', 'an array of strings', 'effects_branches = ["release-*"]', [])
  } else if (branches !== undefined && opts.isDefaultBranch) config.effectsBranches = [...(branches as string[])]
  return { config, warnings }
}

/** Reads `buildbot-nix.toml` from the checkout root (a missing file gives the defaults). */
export async function readRepoConfig(opts: RepoConfigOptions): Promise<RepoConfigResult> {
  const text = await readFile(join(opts.checkoutRoot, REPO_CONFIG_FILE), 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined
    throw e
  })
  return parseRepoConfig(text, opts)
}
