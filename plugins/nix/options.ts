import { join } from 'node:path'

/** One repository the plugin builds. */
export interface NixProjectOptions {
  /** `owner/repo` or any name; builders are `<name>/nix-eval`, … */
  name: string
  /** Any git URL or a local path. */
  url: string
  defaultBranch?: string
  /** Extra branches (globs) built on push, beside the default branch. */
  branches?: string[]
  /** Seconds between polls; creates a git poller for the project. */
  pollInterval?: number
}

export interface NixPluginOptions {
  projects: NixProjectOptions[]
  /** Workers the builders use (required). */
  workers: string[]
  /** Systems whose jobs are built (default: the master's system). */
  buildSystems?: string[]
  /** Evaluation processes per evaluation (default: CPU count). */
  evalWorkerCount?: number
  /** MiB per evaluation process (default 2048). */
  evalMaxMemorySize?: number
  /** Seconds an evaluation may take (default 3600). */
  evalTimeout?: number
  /** Evaluations running at once across all projects (default 2). */
  maxConcurrentEvals?: number
  /** Seconds without output before a `nix build` is killed (default 1200). */
  buildTimeout?: number
  /** `--max-silent-time` of `nix build` (default 1200). */
  maxSilentTime?: number
  /** Directory of the per-attribute GC roots (default `<basedir>/gcroots`). */
  gcRootsDir?: string
  /** Where the latest out path of each attribute is written (default branch only). */
  outputsPath?: string
  /** Remember failed derivations and do not build them again (default false). */
  cacheFailedBuilds?: boolean
  /** Failure events published per evaluation at most (default 50). */
  failedBuildReportLimit?: number
  /**
   * Children on a local worker share `nix build` processes (requests within a few ms go to one
   * process; logs and results are split per derivation). Default true.
   */
  shareNixProcesses?: boolean
}

export interface ResolvedProject {
  name: string
  slug: string
  url: string
  defaultBranch: string
  branches: string[]
  pollInterval?: number
}

export interface ResolvedNixOptions {
  projects: ResolvedProject[]
  workers: string[]
  buildSystems: string[]
  evalWorkerCount: number
  evalMaxMemorySize: number
  evalTimeout: number
  maxConcurrentEvals: number
  buildTimeout: number
  maxSilentTime: number
  gcRootsDir: string
  outputsPath?: string
  cacheFailedBuilds: boolean
  failedBuildReportLimit: number
  shareNixProcesses: boolean
}

/** The nix system of this machine (`x86_64-linux`, `aarch64-darwin`, …). */
export function currentSystem(): string {
  const arch = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch === 'ia32' ? 'i686' : process.arch
  return `${arch}-${process.platform === 'darwin' ? 'darwin' : 'linux'}`
}

/** `owner/repo` → `owner-repo` (also `.`), as buildbot-nix names schedulers. */
export function projectSlug(name: string): string {
  return name.replace(/[/.]/g, '-').replace(/[^A-Za-z0-9_-]/g, '_')
}

const KEYS = ['projects', 'workers', 'buildSystems', 'evalWorkerCount', 'evalMaxMemorySize', 'evalTimeout', 'maxConcurrentEvals', 'buildTimeout',
  'maxSilentTime', 'gcRootsDir', 'outputsPath', 'cacheFailedBuilds', 'failedBuildReportLimit', 'shareNixProcesses']
const PROJECT_KEYS = ['name', 'url', 'defaultBranch', 'branches', 'pollInterval']

const posInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v > 0

/** Checks the options, reporting every mistake through `error(path, message)`. */
export function resolveNixOptions(o: NixPluginOptions | undefined, basedir: string, cpus: number, error: (path: string, message: string) => void): ResolvedNixOptions {
  const opts = (o ?? {}) as Partial<NixPluginOptions>
  for (const k of Object.keys(opts)) if (!KEYS.includes(k)) error(k, `unknown option '${k}'; known: ${KEYS.join(', ')}`)
  if (!Array.isArray(opts.workers) || !opts.workers.length || !opts.workers.every((w) => typeof w === 'string')) {
    error('workers', "list the worker names the nix builders may use, e.g. workers: ['local']")
  }
  const projects: ResolvedProject[] = []
  const seen = new Set<string>()
  if (!Array.isArray(opts.projects)) error('projects', "must be a list of { name, url, defaultBranch }, e.g. projects: [{ name: 'owner/repo', url: 'https://…' }]")
  ;(opts.projects ?? []).forEach((p, i) => {
    if (!p || typeof p.name !== 'string' || !p.name) { error(`projects[${i}].name`, "a project needs a name, e.g. 'owner/repo'"); return }
    if (typeof p.url !== 'string' || !p.url) { error(`projects[${i}].url`, `project '${p.name}' needs a git url or local path`); return }
    for (const k of Object.keys(p)) if (!PROJECT_KEYS.includes(k)) error(`projects[${i}].${k}`, `unknown project option '${k}'; known: ${PROJECT_KEYS.join(', ')}`)
    const slug = projectSlug(p.name)
    if (seen.has(slug)) { error(`projects[${i}].name`, `project '${p.name}' is listed twice (or two names give the slug '${slug}')`); return }
    seen.add(slug)
    if (p.pollInterval !== undefined && !(typeof p.pollInterval === 'number' && p.pollInterval > 0)) error(`projects[${i}].pollInterval`, 'must be a number of seconds > 0')
    if (p.branches !== undefined && !(Array.isArray(p.branches) && p.branches.every((b) => typeof b === 'string'))) error(`projects[${i}].branches`, "must be a list of branch globs, e.g. ['release-*']")
    projects.push({ name: p.name, slug, url: p.url, defaultBranch: p.defaultBranch ?? 'main', branches: p.branches ?? [], pollInterval: p.pollInterval })
  })
  const num = (key: keyof NixPluginOptions, dflt: number): number => {
    const v = opts[key]
    if (v === undefined) return dflt
    if (!posInt(v)) { error(key, `must be a positive integer, got ${JSON.stringify(v)}`); return dflt }
    return v as number
  }
  if (opts.buildSystems !== undefined && !(Array.isArray(opts.buildSystems) && opts.buildSystems.length && opts.buildSystems.every((s) => typeof s === 'string'))) {
    error('buildSystems', "must be a non-empty list of systems, e.g. ['x86_64-linux']")
  }
  return {
    projects,
    workers: opts.workers ?? [],
    buildSystems: Array.isArray(opts.buildSystems) && opts.buildSystems.length ? opts.buildSystems : [currentSystem()],
    evalWorkerCount: num('evalWorkerCount', Math.max(1, cpus)),
    evalMaxMemorySize: num('evalMaxMemorySize', 2048),
    evalTimeout: num('evalTimeout', 3600),
    maxConcurrentEvals: num('maxConcurrentEvals', 2),
    buildTimeout: num('buildTimeout', 1200),
    maxSilentTime: num('maxSilentTime', 1200),
    gcRootsDir: opts.gcRootsDir ?? join(basedir, 'gcroots'),
    outputsPath: opts.outputsPath,
    cacheFailedBuilds: opts.cacheFailedBuilds ?? false,
    failedBuildReportLimit: opts.failedBuildReportLimit ?? 50,
    shareNixProcesses: opts.shareNixProcesses ?? true,
  }
}
