import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { createJobGraph, type GraphJob } from './job-graph.ts'

const drv = (i: number): string => `/nix/store/${String(i).padStart(32, '0')}-j${i}.drv`

/** A random DAG: job i may depend on jobs < i; neededBuilds is the transitive closure plus noise. */
const dagArb = fc.integer({ min: 1, max: 40 }).chain((n) => fc.record({
  n: fc.constant(n),
  edges: fc.array(fc.array(fc.nat({ max: n - 1 }), { maxLength: 4 }), { minLength: n, maxLength: n }),
  fails: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
  order: fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
  seed: fc.array(fc.nat(), { minLength: 200, maxLength: 200 }),
}))

function closure(n: number, edges: number[][]): Set<number>[] {
  const deps: Set<number>[] = []
  for (let i = 0; i < n; i++) {
    const s = new Set<number>()
    for (const e of edges[i]!) if (e < i) { s.add(e); for (const t of deps[e]!) s.add(t) }
    deps.push(s)
  }
  return deps
}

const jobOf = (i: number, deps: Set<number>): GraphJob => ({
  attr: `j${i}`, drvPath: drv(i), neededBuilds: [...[...deps].map(drv), '/nix/store/00000000000000000000000000000000-stdenv.drv'],
})

test('all jobs known first: runs in dependency order, failures propagate to exactly the dependents', () => {
  fc.assert(fc.property(dagArb, ({ n, edges, fails, seed }) => {
    const deps = closure(n, edges)
    const g = createJobGraph()
    for (let i = 0; i < n; i++) g.add(jobOf(i, deps[i]!))
    const done = new Map<number, boolean>()
    const depFailed = new Map<number, string>()
    const running: number[] = []
    let step = 0
    for (;;) {
      const r = g.ready()
      for (const a of r.runnable) {
        const i = Number(a.slice(1))
        for (const d of deps[i]!) assert.ok(done.get(d) === true, `${a} released before j${d} succeeded`)
        running.push(i)
      }
      for (const f of r.dependencyFailed) depFailed.set(Number(f.attr.slice(1)), f.dependency)
      if (!running.length) break
      const i = running.splice(seed[step++ % seed.length]! % running.length, 1)[0]!
      done.set(i, !fails[i])
      g.markDone(`j${i}`, !fails[i])
    }
    assert.is(g.pending, 0)
    for (let i = 0; i < n; i++) {
      const anyFailed = [...deps[i]!].some((d) => done.get(d) === false)
      if (anyFailed) {
        assert.ok(depFailed.has(i), `j${i} should be dependency-failed`)
        const cause = Number(depFailed.get(i)!.slice(1))
        assert.ok(deps[i]!.has(cause) && done.get(cause) === false, `cause of j${i} is a failed dependency`)
        assert.not.ok(done.has(i))
      } else {
        assert.ok(done.has(i), `j${i} ran`)
      }
    }
  }), { numRuns: 300 })
})

test('streamed jobs: never released before a known dependency succeeded; every job is resolved', () => {
  fc.assert(fc.property(dagArb, ({ n, edges, fails, order, seed }) => {
    const deps = closure(n, edges)
    const g = createJobGraph()
    const done = new Map<number, boolean>()
    const added = new Set<number>()
    const resolved = new Set<number>()
    const running: number[] = []
    let next = 0
    let step = 0
    while (next < order.length || running.length) {
      const coin = seed[step++ % seed.length]!
      if (next < order.length && (coin % 2 === 0 || !running.length)) {
        const i = order[next++]!
        g.add(jobOf(i, deps[i]!))
        added.add(i)
      } else if (running.length) {
        const i = running.splice(coin % running.length, 1)[0]!
        done.set(i, !fails[i])
        g.markDone(`j${i}`, !fails[i])
      }
      const r = g.ready()
      for (const a of r.runnable) {
        const i = Number(a.slice(1))
        assert.not.ok(resolved.has(i))
        resolved.add(i)
        for (const d of deps[i]!) if (added.has(d)) assert.ok(done.get(d) === true, `${a} released before j${d}`)
        running.push(i)
      }
      for (const f of r.dependencyFailed) {
        const i = Number(f.attr.slice(1))
        assert.not.ok(resolved.has(i))
        resolved.add(i)
        const cause = Number(f.dependency.slice(1))
        assert.ok(deps[i]!.has(cause) && done.get(cause) === false)
      }
    }
    assert.is(resolved.size, n)
    assert.is(g.pending, 0)
  }), { numRuns: 300 })
})

test('a job arriving after its dependency finished is runnable or failed at once', () => {
  const g = createJobGraph()
  g.add({ attr: 'a', drvPath: drv(1) })
  g.add({ attr: 'x', drvPath: drv(9) })
  assert.equal(g.ready().runnable, ['a', 'x'])
  g.markDone('a', true)
  g.markDone('x', false)
  g.add({ attr: 'b', drvPath: drv(2), neededBuilds: [drv(1)] })
  g.add({ attr: 'c', drvPath: drv(3), neededSubstitutes: [drv(9)] })
  g.add({ attr: 'd', drvPath: drv(4), neededBuilds: [drv(3)] })
  const r = g.ready()
  assert.equal(r.runnable, ['b'])
  assert.equal(r.dependencyFailed, [{ attr: 'c', dependency: 'x' }, { attr: 'd', dependency: 'x' }])
})

test('a dependency arriving later holds back a waiting dependent; same drv twice is no dependency', () => {
  const g = createJobGraph()
  g.add({ attr: 'b', drvPath: drv(2), neededBuilds: [drv(1)] })
  g.add({ attr: 'b2', drvPath: drv(2), neededBuilds: [drv(1)] })
  g.add({ attr: 'a', drvPath: drv(1) })
  assert.equal(g.ready().runnable, ['a'])
  assert.equal(g.waitingFor('b'), ['a'])
  g.markDone('a', true)
  assert.equal(g.ready().runnable, ['b', 'b2'])
  assert.throws(() => g.markDone('a', true), /not running/)
  assert.throws(() => g.add({ attr: 'a', drvPath: drv(1) }), /twice/)
})

test('handles a thousand-job chain and a wide fan-in', () => {
  const g = createJobGraph()
  const K = 2000
  for (let i = 0; i < K; i++) g.add({ attr: `j${i}`, drvPath: drv(i), neededBuilds: i ? [drv(i - 1)] : [] })
  g.add({ attr: 'all', drvPath: drv(K), neededBuilds: Array.from({ length: K }, (_, i) => drv(i)) })
  let ran = 0
  for (let r = g.ready(); r.runnable.length; r = g.ready()) for (const a of r.runnable) { ran++; g.markDone(a, true) }
  assert.is(ran, K + 1)
  assert.is(g.pending, 0)
})

test.run()
