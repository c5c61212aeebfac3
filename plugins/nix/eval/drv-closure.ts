import { runProcess } from './run-process.ts'
import { validPaths } from '../store/store-validity.ts'

export interface DrvInfo {
  outputs: Record<string, string | null>
  inputDrvs: Record<string, string[]>
}

export interface ClosureStatus {
  /** True when every output of the drv is valid in the store. */
  local: boolean
  /** Derivations below it (self excluded) that must be built, not descending into built ones. */
  neededBuilds: string[]
  inputDrvs: Record<string, string[]>
}

const BATCH = 500

/** Reads the derivation closure of `drvPaths` with `nix show-derivation -r` (batched). */
export async function showDerivations(drvPaths: readonly string[], signal?: AbortSignal): Promise<Map<string, DrvInfo>> {
  const all = new Map<string, DrvInfo>()
  for (let i = 0; i < drvPaths.length; i += BATCH) {
    const batch = drvPaths.slice(i, i + BATCH)
    const r = await runProcess('nix', ['show-derivation', '-r', ...batch], { signal })
    if (r.aborted) throw new Error('aborted')
    if (r.code !== 0) throw new Error(`nix show-derivation failed: ${r.stderrTail}`)
    const json = JSON.parse(r.stdout) as Record<string, { outputs: Record<string, { path?: string }>; inputDrvs: Record<string, string[]> }>
    for (const [drv, d] of Object.entries(json)) {
      const outputs: Record<string, string | null> = {}
      for (const [name, o] of Object.entries(d.outputs)) outputs[name] = o.path ? o.path : null
      all.set(drv, { outputs, inputDrvs: d.inputDrvs })
    }
  }
  return all
}

/** Whether each drv of the closure is built, and what each of `roots` still needs built. */
export async function closureStatus(roots: readonly string[], signal?: AbortSignal): Promise<Map<string, ClosureStatus>> {
  const drvs = await showDerivations(roots, signal)
  const outPaths: string[] = []
  for (const d of drvs.values()) for (const p of Object.values(d.outputs)) if (p) outPaths.push(p)
  const valid = await validPaths(outPaths, { signal })
  const built = (drv: string): boolean => {
    const d = drvs.get(drv)
    if (!d) return false
    const outs = Object.values(d.outputs)
    return outs.length > 0 && outs.every((p) => p !== null && valid.has(p))
  }
  const result = new Map<string, ClosureStatus>()
  for (const root of roots) {
    const needed = new Set<string>()
    const stack = [root]
    const seen = new Set<string>([root])
    while (stack.length) {
      const cur = stack.pop()!
      if (built(cur)) continue
      if (cur !== root) needed.add(cur)
      for (const dep of Object.keys(drvs.get(cur)?.inputDrvs ?? {})) {
        if (!seen.has(dep)) { seen.add(dep); stack.push(dep) }
      }
    }
    result.set(root, { local: built(root), neededBuilds: [...needed].sort(), inputDrvs: drvs.get(root)?.inputDrvs ?? {} })
  }
  return result
}
