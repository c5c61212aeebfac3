import { join } from 'node:path'
import { z } from '../../core/index.ts'

const posInt = (description: string, example: number) => z.number().int().min(1).meta({ description, examples: [example] })

/** One repository the plugin builds. */
export const nixProjectSchema = z.strictObject({
  name: z.string().min(1, { error: "a project needs a name, e.g. 'owner/repo'" }).meta({ description: "`owner/repo` or any name; builders are `<name>/nix-eval`, …", examples: ['owner/repo'] }),
  url: z.string().min(1, { error: 'a project needs a git url or local path' }).meta({ description: 'any git URL or a local path', examples: ['https://example.org/owner/repo.git'] }),
  defaultBranch: z.string().min(1).meta({ description: "the branch whose builds are kept (default 'main')" }).optional(),
  branches: z.array(z.string()).meta({ description: 'extra branches (globs) built on push, beside the default branch', examples: [['release-*']] }).optional(),
  pollInterval: z.number().positive().meta({ description: 'seconds between polls; creates a git poller for the project', examples: [60] }).optional(),
})

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The options of `nix({...})`. */
export const nixOptionsSchema = z.strictObject({
  projects: z.array(nixProjectSchema, { error: (iss) => (iss.code === 'invalid_type' ? "must be a list of { name, url, defaultBranch }, e.g. projects: [{ name: 'owner/repo', url: 'https://…' }]" : undefined) })
    .superRefine((projects, ctx) => {
      const seen = new Map<string, string>()
      projects.forEach((p, i) => {
        if (!isObj(p) || typeof p.name !== 'string' || !p.name) return
        const slug = projectSlug(p.name)
        if (seen.has(slug)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `project '${p.name}' is listed twice (or two names give the slug '${slug}'); keep one or rename it`, input: p.name })
        else seen.set(slug, p.name)
      })
    }, { when: (payload) => Array.isArray(payload.value) })
    .meta({ description: 'the repositories to build' }),
  workers: z.array(z.string(), { error: (iss) => (iss.code === 'invalid_type' ? "list the worker names the nix builders may use, e.g. workers: ['local']" : undefined) })
    .min(1, { error: "list the worker names the nix builders may use, e.g. workers: ['local']" }).meta({ description: 'workers the builders use', examples: [['local']] }),
  buildSystems: z.array(z.string()).min(1).meta({ description: "systems whose jobs are built (default: the master's system)", examples: [['x86_64-linux']] }).optional(),
  evalWorkerCount: posInt('evaluation processes per evaluation (default: CPU count)', 4).optional(),
  evalMaxMemorySize: posInt('MiB per evaluation process (default 2048)', 2048).optional(),
  evalTimeout: posInt('seconds an evaluation may take (default 3600)', 3600).optional(),
  maxConcurrentEvals: posInt('evaluations running at once across all projects (default 2)', 2).optional(),
  buildTimeout: posInt('seconds one `nix build` of an attribute may take in all; then it is killed and the build fails as timed out (default 10800)', 10800).optional(),
  maxSilentTime: posInt('`--max-silent-time` of `nix build` (default 1200)', 1200).optional(),
  gcRootsDir: z.string().meta({ description: 'directory of the per-attribute GC roots (default `<basedir>/gcroots`)' }).optional(),
  outputsPath: z.string().meta({ description: 'where the latest out path of each attribute is written (default branch, and branches whose rule says updateOutputs)' }).optional(),
  branches: z.record(z.string(), z.strictObject({
    matchGlob: z.string().min(1).meta({ description: "branches this rule applies to ('release-*')" }),
    registerGCRoots: z.boolean().meta({ description: 'keep the outputs of these branches alive with GC roots (default true)' }).optional(),
    updateOutputs: z.boolean().meta({ description: 'write their out paths to outputsPath (default false)' }).optional(),
  })).meta({ description: "buildbot-nix's branches: pushes to every project's branches matching a rule are built, and their outputs kept as the rule says" }).optional(),
  cacheFailedBuilds: z.boolean().meta({ description: 'remember failed derivations and do not build them again (default false)' }).optional(),
  failedBuildReportLimit: z.number().int().min(0).meta({ description: 'failure events published per evaluation at most (default 50)' }).optional(),
  shareNixProcesses: z.boolean().meta({ description: 'children on a local worker share `nix build` processes (logs and results stay per derivation; default true)' }).optional(),
  shareWindowMs: z.number().int().min(0).max(60_000).meta({ description: 'milliseconds a shared `nix build` process waits for more children before it starts (default 5)' }).optional(),
})

export type NixProjectOptions = z.input<typeof nixProjectSchema>
export type NixPluginOptions = z.input<typeof nixOptionsSchema>

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
  shareWindowMs: number
  branchRules: BranchRule[]
}

/** One of buildbot-nix's `branches.<name>`: pushes to matching branches are built; GC roots and outputsPath as it says. */
export interface BranchRule { name: string; matchGlob: string; registerGCRoots: boolean; updateOutputs: boolean }

/** The nix system of this machine (`x86_64-linux`, `aarch64-darwin`, …). */
export function currentSystem(): string {
  const arch = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch === 'ia32' ? 'i686' : process.arch
  return `${arch}-${process.platform === 'darwin' ? 'darwin' : 'linux'}`
}

/** `owner/repo` → `owner-repo` (also `.`), as buildbot-nix names schedulers. */
export function projectSlug(name: string): string {
  return name.replace(/[/.]/g, '-').replace(/[^A-Za-z0-9_-]/g, '_')
}

/** Fills in the defaults of checked options. */
export function resolveNixOptions(opts: z.output<typeof nixOptionsSchema>, basedir: string, cpus: number): ResolvedNixOptions {
  return {
    projects: opts.projects.map((p) => ({ name: p.name, slug: projectSlug(p.name), url: p.url, defaultBranch: p.defaultBranch ?? 'main', branches: p.branches ?? [], pollInterval: p.pollInterval })),
    workers: opts.workers,
    buildSystems: opts.buildSystems ?? [currentSystem()],
    evalWorkerCount: opts.evalWorkerCount ?? Math.max(1, cpus),
    evalMaxMemorySize: opts.evalMaxMemorySize ?? 2048,
    evalTimeout: opts.evalTimeout ?? 3600,
    maxConcurrentEvals: opts.maxConcurrentEvals ?? 2,
    buildTimeout: opts.buildTimeout ?? 10800,
    maxSilentTime: opts.maxSilentTime ?? 1200,
    gcRootsDir: opts.gcRootsDir ?? join(basedir, 'gcroots'),
    outputsPath: opts.outputsPath,
    cacheFailedBuilds: opts.cacheFailedBuilds ?? false,
    failedBuildReportLimit: opts.failedBuildReportLimit ?? 50,
    shareNixProcesses: opts.shareNixProcesses ?? true,
    shareWindowMs: opts.shareWindowMs ?? 5,
    branchRules: Object.entries(opts.branches ?? {}).map(([name, b]) => ({ name, matchGlob: b.matchGlob, registerGCRoots: b.registerGCRoots ?? true, updateOutputs: b.updateOutputs ?? false })),
  }
}
