/**
 * The in-matrix dependency graph of a build: which jobs must finish before another may start.
 * Jobs can be added while the evaluation still streams; an edge exists when both ends are known
 * and the dependent has not been released yet (a released job builds its missing inputs itself).
 */

/** What the graph needs of a job (a `NixJob` fits). Jobs without `drvPath` are ignored. */
export interface GraphJob {
  attr: string
  drvPath?: string
  neededBuilds?: readonly string[]
  neededSubstitutes?: readonly string[]
}

export interface DependencyFailure {
  attr: string
  /** The failed job that caused it (the root cause, not an intermediate dependency-failed job). */
  dependency: string
}

export interface ReadyBatch {
  /** Jobs whose in-matrix dependencies all succeeded: start them. */
  runnable: string[]
  /** Jobs that will not run because a dependency failed. */
  dependencyFailed: DependencyFailure[]
}

type State = 'waiting' | 'released' | 'ok' | 'failed' | 'dependencyFailed'

interface Node {
  attr: string
  drv: string
  needed: ReadonlySet<string>
  state: State
  blockers: Set<string>
  dependents: Set<string>
  rootCause?: string
}

export interface JobGraph {
  /** Adds a job; a duplicate attr throws. */
  add(job: GraphJob): void
  /** The jobs that became runnable or dependency-failed since the previous call. */
  ready(): ReadyBatch
  /** Records the result of a released job. */
  markDone(attr: string, ok: boolean): void
  /** In-matrix jobs `attr` currently waits for. */
  waitingFor(attr: string): string[]
  /** Jobs added but neither finished nor dependency-failed. */
  readonly pending: number
  has(attr: string): boolean
}

export function createJobGraph(): JobGraph {
  const nodes = new Map<string, Node>()
  const byDrv = new Map<string, Set<string>>()
  // drv → waiting jobs that need it, so a job arriving later is linked to them
  const wantedBy = new Map<string, Set<string>>()
  const candidates = new Set<string>()
  let failedOut: DependencyFailure[] = []
  let pending = 0

  const unwant = (n: Node): void => {
    for (const d of n.needed) wantedBy.get(d)?.delete(n.attr)
  }

  const failDependents = (start: Node, root: string): void => {
    const stack = [start]
    while (stack.length) {
      const cur = stack.pop()!
      for (const a of cur.dependents) {
        const d = nodes.get(a)!
        if (d.state !== 'waiting') continue
        d.state = 'dependencyFailed'
        d.rootCause = root
        d.blockers.clear()
        candidates.delete(a)
        unwant(d)
        pending--
        failedOut.push({ attr: a, dependency: root })
        stack.push(d)
      }
    }
  }

  // Makes `dep` a prerequisite of waiting job `j`.
  const link = (j: Node, dep: Node): void => {
    if (j.state !== 'waiting' || dep.drv === j.drv) return
    switch (dep.state) {
      case 'ok': return
      case 'failed':
      case 'dependencyFailed': {
        const root = dep.state === 'failed' ? dep.attr : dep.rootCause!
        j.state = 'dependencyFailed'
        j.rootCause = root
        j.blockers.clear()
        candidates.delete(j.attr)
        unwant(j)
        pending--
        failedOut.push({ attr: j.attr, dependency: root })
        failDependents(j, root)
        return
      }
      default:
        j.blockers.add(dep.attr)
        dep.dependents.add(j.attr)
        candidates.delete(j.attr)
    }
  }

  return {
    add(job) {
      if (!job.drvPath) return
      if (nodes.has(job.attr)) throw new Error(`job '${job.attr}' was added twice`)
      const needed = new Set<string>([...(job.neededBuilds ?? []), ...(job.neededSubstitutes ?? [])])
      needed.delete(job.drvPath)
      const n: Node = { attr: job.attr, drv: job.drvPath, needed, state: 'waiting', blockers: new Set(), dependents: new Set() }
      nodes.set(job.attr, n)
      pending++
      candidates.add(job.attr)
      for (const d of needed) {
        for (const a of byDrv.get(d) ?? []) link(n, nodes.get(a)!)
        if (n.state !== 'waiting') break
      }
      if (n.state === 'waiting') {
        for (const d of needed) {
          let s = wantedBy.get(d)
          if (!s) wantedBy.set(d, (s = new Set()))
          s.add(n.attr)
        }
      }
      let same = byDrv.get(n.drv)
      if (!same) byDrv.set(n.drv, (same = new Set()))
      same.add(n.attr)
      for (const a of [...(wantedBy.get(n.drv) ?? [])]) link(nodes.get(a)!, n)
    },
    ready() {
      const runnable: string[] = []
      for (const a of candidates) {
        const n = nodes.get(a)!
        if (n.state === 'waiting' && n.blockers.size === 0) {
          n.state = 'released'
          unwant(n)
          runnable.push(a)
        }
      }
      candidates.clear()
      const dependencyFailed = failedOut
      failedOut = []
      return { runnable, dependencyFailed }
    },
    markDone(attr, ok) {
      const n = nodes.get(attr)
      if (!n || n.state !== 'released') throw new Error(`job '${attr}' is not running (state ${n?.state ?? 'unknown'})`)
      n.state = ok ? 'ok' : 'failed'
      pending--
      if (!ok) { failDependents(n, attr); return }
      for (const a of n.dependents) {
        const d = nodes.get(a)!
        if (d.state !== 'waiting') continue
        d.blockers.delete(attr)
        if (d.blockers.size === 0) candidates.add(a)
      }
    },
    waitingFor(attr) {
      return [...(nodes.get(attr)?.blockers ?? [])]
    },
    get pending() { return pending },
    has(attr) { return nodes.has(attr) },
  }
}
