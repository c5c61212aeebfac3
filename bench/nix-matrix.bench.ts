// Build-matrix figures, one JSON line each, for a generated flake of K trivial checks:
// force → last child finished, force → first child started, evaluation time, and the floor:
// one `nix build` of all K installables in a single process (fresh outputs each time).
// Run: node --import tsx bench/nix-matrix.bench.ts   (NIX_MATRIX_K=200,1000 to choose sizes)
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { makeFlakeRepo, type DrvSpec } from '../test/fixtures/nix/make-flake.ts'
import { startMaster } from '../test/support/master-harness.ts'
import { testDatabases } from '../test/support/databases.ts'
import { localWorker } from '../core/index.ts'
import { nix, NixKey, type NixApi } from '../plugins/nix/index.ts'

const sizes = (process.env.NIX_MATRIX_K ?? '200,1000').split(',').map(Number)
const tmp = mkdtempSync(join(tmpdir(), 'nix-matrix-bench-'))
const sqlite = testDatabases()[0]!

function checks(k: number): Record<string, DrvSpec> {
  const out: Record<string, DrvSpec> = {}
  for (let i = 0; i < k; i++) out[`c${i}`] = {}
  return out
}

try {
  for (const k of sizes) {
    const repo = join(tmp, `repo-${k}`)
    makeFlakeRepo(repo, { checks: checks(k), salt: randomBytes(6).toString('hex') })
    const h = await startMaster(sqlite, {
      // Children waiting on a shared nix process are cheap: let many run at once (nix bounds real builds).
      workers: [localWorker({ name: 'local', maxBuilds: Number(process.env.NIX_MATRIX_MAX_BUILDS ?? 256) })],
      plugins: [nix({ projects: [{ name: 'bench/matrix', url: repo }], workers: ['local'], shareNixProcesses: process.env.NIX_MATRIX_SHARE !== '0' })],
    })
    try {
      const buildBuilder = h.builderId('bench/matrix/nix-build')
      let firstChild = 0
      let evalEnd = 0
      let children = 0
      h.master.bus.subscribe('builds/*/new', (_k, m) => { if ((m as { builderid: number }).builderid === buildBuilder) { children++; firstChild ||= performance.now() } })
      ;(h.master.config.services.get(NixKey.id) as NixApi).hooks.evalFinished.tap(() => { evalEnd ||= performance.now() })
      const t0 = performance.now()
      const { bsid } = await h.force('bench-matrix-force')
      const result = await h.waitBuildset(bsid, 1_800_000)
      const total = performance.now() - t0

      // The floor: the same flake with new outputs, built by one nix process.
      const floorRepo = join(tmp, `floor-${k}`)
      makeFlakeRepo(floorRepo, { checks: checks(k), salt: randomBytes(6).toString('hex') })
      const installables = Object.keys(checks(k)).map((n) => `git+file://${floorRepo}#checks.x86_64-linux.${n}`)
      const f0 = performance.now()
      execFileSync('nix', ['build', '--no-link', '--option', 'keep-going', 'true', ...installables], { stdio: 'ignore', maxBuffer: 64 << 20 })
      const floor = performance.now() - f0

      // For reference: building K already evaluated .drv paths in one process (no evaluation).
      const drvRepo = join(tmp, `drvs-${k}`)
      makeFlakeRepo(drvRepo, { checks: checks(k), salt: randomBytes(6).toString('hex') })
      const drvs = Object.values(JSON.parse(execFileSync('nix', ['eval', '--json', `git+file://${drvRepo}#checks.x86_64-linux`, '--apply', 'builtins.mapAttrs (n: v: v.drvPath)'], { encoding: 'utf8', maxBuffer: 64 << 20 })) as Record<string, string>)
      const d0 = performance.now()
      execFileSync('nix', ['build', '--no-link', '--option', 'keep-going', 'true', ...drvs], { stdio: 'ignore', maxBuffer: 64 << 20 })
      const buildOnly = performance.now() - d0
      console.log(JSON.stringify({
        bench: 'nix.matrix', k, shared_nix_processes: process.env.NIX_MATRIX_SHARE !== '0', result, children,
        push_to_last_child_ms: Math.round(total), push_to_first_child_ms: Math.round(firstChild - t0), push_to_eval_end_ms: Math.round(evalEnd - t0),
        first_child_before_eval_end: firstChild < evalEnd, single_nix_build_floor_ms: Math.round(floor), ratio_to_floor: +(total / floor).toFixed(2), target_ratio: 2,
        drv_build_only_ms: Math.round(buildOnly),
      }))
    } finally {
      await h.stop()
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true })
}
