// Built-in evaluator against one `nix eval` of all drvPaths, on generated flakes with K checks.
// Prints one JSON line per figure.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeFlakeRepo } from '../test/fixtures/nix/make-flake.ts'
import { createBuiltinEvaluator } from '../plugins/nix/eval/builtin-evaluator.ts'
import { createJobGraph } from '../plugins/nix/eval/job-graph.ts'
import { probeNixVersion } from '../plugins/nix/eval/nix-version.ts'

const emit = (metric: string, k: number, value: number, extra: Record<string, unknown> = {}): void =>
  console.log(JSON.stringify({ bench: 'nix-eval', metric, k, value: Math.round(value * 10) / 10, ...extra }))

const tmp = mkdtempSync(join(tmpdir(), 'bench-nix-eval-'))
try {
  const nixVersion = await probeNixVersion()
  const workers = Math.max(2, cpus().length)
  for (const k of [200, 1000]) {
    const dir = join(tmp, `k${k}`)
    const checks: Record<string, { deps?: string[] }> = {}
    for (let i = 0; i < k; i++) checks[`c${i}`] = i % 10 === 9 ? { deps: [`c${i - 1}`] } : {}
    makeFlakeRepo(dir, { checks })

    let t0 = performance.now()
    execFileSync('nix', ['eval', '--json', `git+file://${dir}#checks.x86_64-linux`, '--apply', 'cs: builtins.mapAttrs (n: d: d.drvPath) cs'], { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 })
    emit('nix_eval_single_process_ms', k, performance.now() - t0)

    const ev = createBuiltinEvaluator({ nixVersion })
    t0 = performance.now()
    let first = 0
    let n = 0
    const jobs = []
    for await (const job of ev.evaluate({ flakeDir: dir, attribute: 'checks', workers, maxMemoryMiB: 2048, timeoutSec: 600 })) {
      if (!n++) first = performance.now() - t0
      jobs.push(job)
    }
    const total = performance.now() - t0
    if (n !== k) throw new Error(`expected ${k} jobs, got ${n}`)
    emit('builtin_eval_ms', k, total, { workers })
    emit('builtin_first_job_ms', k, first, { workers })

    t0 = performance.now()
    const g = createJobGraph()
    for (const j of jobs) g.add(j)
    let ran = 0
    for (let r = g.ready(); r.runnable.length; r = g.ready()) for (const a of r.runnable) { ran++; g.markDone(a, true) }
    if (ran !== k) throw new Error(`graph ran ${ran} of ${k}`)
    emit('job_graph_ms', k, performance.now() - t0)
  }
} finally {
  rmSync(tmp, { recursive: true, force: true })
}
