import { readdirSync, readFileSync } from 'node:fs'
import { Gauge, Histogram, RESULT_NAMES, type MetricsRegistry } from '../../core/index.ts'
import type { NixHooks } from './nix-hooks.ts'

/**
 * The Nix plugin's families at `/metrics`: evaluation durations by project and result, and the
 * nix processes this master runs (evaluations, builds, store queries), found under the master's
 * process tree when scraped (Linux `/proc`; 0 elsewhere).
 */
export function registerNixMetrics(register: MetricsRegistry, hooks: NixHooks): void {
  const evals = new Histogram({
    name: 'bbn_nix_evaluation_duration_seconds', help: 'Wall time of flake evaluations, by project and result',
    labelNames: ['project', 'result'], buckets: [1, 5, 15, 30, 60, 120, 300, 900, 1800], registers: [register],
  })
  new Gauge({
    name: 'bbn_nix_processes', help: 'nix processes running under this master, by program (nix, nix-eval-jobs, nix-store, ...)',
    labelNames: ['program'], registers: [register],
    collect() {
      this.reset()
      for (const [program, n] of nixDescendants(process.pid)) this.set({ program }, n)
    },
  })
  const started = new Map<number, number>()
  hooks.evalStarted.tap((ev) => { started.set(ev.buildid, performance.now()) })
  hooks.evalFinished.tap((ev) => {
    const t0 = started.get(ev.buildid)
    started.delete(ev.buildid)
    if (t0 !== undefined) evals.observe({ project: ev.project, result: RESULT_NAMES[ev.results] ?? 'unknown' }, (performance.now() - t0) / 1000)
  })
}

/** Programs named `nix*` among the descendants of `root`, counted by name. */
export function nixDescendants(root: number): Map<string, number> {
  const out = new Map<string, number>()
  let entries: string[]
  try { entries = readdirSync('/proc') } catch { return out }
  const children = new Map<number, { pid: number; comm: string }[]>()
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue
    let stat: string
    try { stat = readFileSync(`/proc/${e}/stat`, 'utf8') } catch { continue }
    // `pid (comm) state ppid ...`; comm may hold spaces and parentheses, so split at the last ')'.
    const close = stat.lastIndexOf(')')
    const comm = stat.slice(stat.indexOf('(') + 1, close)
    const ppid = Number(stat.slice(close + 2).split(' ')[1])
    let list = children.get(ppid)
    if (!list) children.set(ppid, (list = []))
    list.push({ pid: Number(e), comm })
  }
  const stack = [root]
  while (stack.length) {
    for (const c of children.get(stack.pop()!) ?? []) {
      if (c.comm.startsWith('nix')) out.set(c.comm, (out.get(c.comm) ?? 0) + 1)
      stack.push(c.pid)
    }
  }
  return out
}
