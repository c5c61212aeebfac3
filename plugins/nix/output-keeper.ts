import { join } from 'node:path'
import { createGcRootBatcher } from './gc-root-batcher.ts'
import { outputRoots, removeStaleGcRoots } from './store/gc-roots.ts'
import { quotePlus, writeOutputPath } from './store/outputs-path.ts'
import type { BranchRule, ResolvedProject } from './options.ts'

/**
 * What is kept of one evaluation's outputs (it travels to the children as property `nix_keep`):
 * the default branch keeps GC roots and outputsPath entries; a branch matching a `branches`
 * rule keeps what the rule says, with roots of its own; anything else (pull requests, other
 * branches) keeps nothing.
 */
export interface KeepPolicy { branch: string; isDefault: boolean; gcRoots: boolean; outputs: boolean }

const globRe = (g: string): RegExp => new RegExp('^' + g.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$')

/** `owner/repo` → owner and repo for outputsPath (`unknown` owner for other names). */
export function ownerRepo(name: string): { owner: string; repo: string } {
  const i = name.indexOf('/')
  return i > 0 ? { owner: name.slice(0, i), repo: name.slice(i + 1).replace(/\//g, '-') } : { owner: 'unknown', repo: name }
}

/**
 * The last hop of an attribute on the default branch (or a branch a rule names): keeps every
 * output alive with a GC root (`<gcRootsDir>/<slug>/<attr>` for the primary output, `<attr>!<output>`
 * for the others; another branch's under `<gcRootsDir>/<slug>@<branch>/`) and records each in
 * outputsPath likewise. It owns the root batcher and the outputsPath writes.
 */
export function createOutputKeeper(opts: { gcRootsDir: string; outputsPath?: string; branchRules?: readonly BranchRule[] }) {
  const rules = (opts.branchRules ?? []).map((r) => ({ ...r, re: globRe(r.matchGlob) }))
  const rootsDir = (project: ResolvedProject, keep: KeepPolicy) => join(opts.gcRootsDir, keep.isDefault ? project.slug : `${project.slug}@${quotePlus(keep.branch)}`)
  const roots = createGcRootBatcher()
  // outputsPath entries are written one at a time (concurrent writes in one directory may share a temp name).
  let outputs: Promise<void> = Promise.resolve()
  const writeOutput = (project: ResolvedProject, branch: string, attr: string, outPath: string): Promise<void> => {
    if (!opts.outputsPath) return Promise.resolve()
    const next = outputs.then(() => writeOutputPath(opts.outputsPath!, { ...ownerRepo(project.name), branch, attr }, outPath)).then(() => undefined)
    outputs = next.catch(() => undefined)
    return next
  }
  return {
    /** What an evaluation of `branch` keeps (undefined: nothing). */
    policy(project: ResolvedProject, branch: string, isPullRequest: boolean): KeepPolicy | undefined {
      if (isPullRequest || !branch) return undefined
      if (branch === project.defaultBranch) return { branch, isDefault: true, gcRoots: true, outputs: true }
      const rule = rules.find((r) => r.re.test(branch))
      if (!rule || (!rule.registerGCRoots && !rule.updateOutputs)) return undefined
      return { branch, isDefault: false, gcRoots: rule.registerGCRoots, outputs: rule.updateOutputs }
    },
    /** Roots and outputsPath entries for every output, as `keep` says; tells how the roots changed (`created`, `updated`, `unchanged`). */
    async keep(project: ResolvedProject, attr: string, outs: Record<string, string>, keep: KeepPolicy): Promise<string> {
      const dir = rootsDir(project, keep)
      const hows = new Set<string>()
      for (const r of outputRoots(outs)) {
        if (keep.gcRoots) hows.add(await roots.register(dir, attr, r.path, r.output))
        if (keep.outputs) await writeOutput(project, keep.branch, r.output ? `${attr}!${r.output}` : attr, r.path)
      }
      return [...hows].join(', ')
    },
    /** Removes the roots of attributes no longer evaluated (all their outputs) on that branch; returns those attributes. */
    async removeStale(project: ResolvedProject, current: Iterable<string>, keep: KeepPolicy): Promise<string[]> {
      return keep.gcRoots ? removeStaleGcRoots(rootsDir(project, keep), current) : []
    },
  }
}

export type OutputKeeper = ReturnType<typeof createOutputKeeper>
