import { join } from 'node:path'
import { createGcRootBatcher } from './gc-root-batcher.ts'
import { outputRoots, removeStaleGcRoots } from './store/gc-roots.ts'
import { writeOutputPath } from './store/outputs-path.ts'
import type { ResolvedProject } from './options.ts'

/** `owner/repo` → owner and repo for outputsPath (`unknown` owner for other names). */
export function ownerRepo(name: string): { owner: string; repo: string } {
  const i = name.indexOf('/')
  return i > 0 ? { owner: name.slice(0, i), repo: name.slice(i + 1).replace(/\//g, '-') } : { owner: 'unknown', repo: name }
}

/**
 * The last hop of an attribute on the default branch: keeps every output alive with a GC root
 * (`<gcRootsDir>/<slug>/<attr>` for the primary output, `<attr>!<output>` for the others) and
 * records each in outputsPath likewise. It owns the root batcher and the outputsPath writes.
 */
export function createOutputKeeper(opts: { gcRootsDir: string; outputsPath?: string }) {
  const roots = createGcRootBatcher()
  // outputsPath entries are written one at a time (concurrent writes in one directory may share a temp name).
  let outputs: Promise<void> = Promise.resolve()
  const writeOutput = (project: ResolvedProject, attr: string, outPath: string): Promise<void> => {
    if (!opts.outputsPath) return Promise.resolve()
    const next = outputs.then(() => writeOutputPath(opts.outputsPath!, { ...ownerRepo(project.name), branch: project.defaultBranch, attr }, outPath)).then(() => undefined)
    outputs = next.catch(() => undefined)
    return next
  }
  return {
    /** Roots and outputsPath entries for every output; says how the roots changed (`created`, `updated`, `unchanged`). */
    async keep(project: ResolvedProject, attr: string, outs: Record<string, string>): Promise<string> {
      const dir = join(opts.gcRootsDir, project.slug)
      const hows = new Set<string>()
      for (const r of outputRoots(outs)) {
        hows.add(await roots.register(dir, attr, r.path, r.output))
        await writeOutput(project, r.output ? `${attr}!${r.output}` : attr, r.path)
      }
      return [...hows].join(', ')
    },
    /** Removes the roots of attributes no longer evaluated (all their outputs); returns those attributes. */
    removeStale(project: ResolvedProject, current: Iterable<string>): Promise<string[]> {
      return removeStaleGcRoots(join(opts.gcRootsDir, project.slug), current)
    },
  }
}

export type OutputKeeper = ReturnType<typeof createOutputKeeper>
