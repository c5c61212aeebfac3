// Core engine figures, one JSON line each ({"bench":"core","metric":...,"value":...,"unit":...}):
// idle RSS after start, master CPU and wall overhead per trivial build on the local worker, and
// the time of a 1,000-child Trigger fan-out. sqlite always; PostgreSQL too when TEST_PG_URL is set.
// Run: node --import tsx bench/core.bench.ts   (BENCH_BUILDS=200 BENCH_FANOUT=1000 to change sizes)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { localWorker, builder, steps, schedulers, SUCCESS } from '../core/index.ts'
import { runLocalShell } from '../core/workers/local/local-shell.ts'
import { testDatabases } from '../test/support/databases.ts'
import { startMaster } from '../test/support/master-harness.ts'
import { npmStartFlags } from './npm-start-flags.ts'

const BUILDS = Number(process.env.BENCH_BUILDS ?? 200)
const FANOUT = Number(process.env.BENCH_FANOUT ?? 1000)
const emit = (metric: string, value: number, unit: string, extra: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ bench: 'core', metric, value: Math.round(value * 100) / 100, unit, ...extra }))

/** CPU ms of waited-for children (cutime + cstime, 100 ticks/s), from /proc: the commands, not the master. */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(f[13]) + Number(f[14])) * 1000) / 100
}
/** The master's own CPU ms: process.cpuUsage() counts this process only, never its children. */
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }

async function reference(dir: string): Promise<{ wall: number; cpu: number }> {
  const t0 = performance.now(), c0 = cpuMs()
  for (let i = 0; i < BUILDS; i++) {
    const r = await runLocalShell({ command: ['true'], workdir: dir, timeout: 1200 }, { output: () => {} })
    if (r.rc !== 0) throw new Error('true failed')
  }
  return { wall: performance.now() - t0, cpu: cpuMs() - c0 }
}

/**
 * RSS of a real master process (`buildbot-nix start`, as deployed) once it has started and
 * idled for 2 s, with one local worker, a builder and a force scheduler.
 */
async function idleRss(dbUrl: string, dir: string, nodeFlags: string[] = []): Promise<number> {
  const root = new URL('..', import.meta.url).pathname
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
  writeFileSync(join(dir, 'master.config.ts'), `import { defineMaster, localWorker, builder, steps, schedulers } from ${JSON.stringify(join(root, 'core/index.ts'))}
export default defineMaster({ db: ${JSON.stringify(dbUrl)}, www: { port: 0 }, logLevel: 'info', workers: [localWorker({ name: 'local' })],
  builders: [builder({ name: 'b', workers: ['local'], steps: [steps.shell({ command: ['true'] })] })],
  schedulers: [schedulers.force({ name: 'force', builderNames: ['b'] })] })
`)
  const child = spawn(process.execPath, [...nodeFlags, join(root, 'bin/buildbot-nix.mjs'), 'start', '-c', join(dir, 'master.config.ts')], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    await new Promise<void>((resolve, reject) => {
      let buf = ''
      child.stdout!.setEncoding('utf8').on('data', (d: string) => { buf += d; if (buf.includes('"master started"')) resolve() })
      child.on('exit', (c) => reject(new Error(`master exited with ${c} before starting:\n${buf}`)))
    })
    await new Promise((r) => setTimeout(r, 2000))
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
    return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024
  } finally {
    child.kill('SIGTERM')
    await new Promise((r) => child.once('close', r))
  }
}

for (const db of testDatabases()) {
  const tag = { db: db.name }
  const rssDir = mkdtempSync(join(tmpdir(), 'bbn-bench-rss-'))
  try {
    const url = await db.url(rssDir)
    emit('idle_rss', await idleRss(url, rssDir), 'MiB', { ...tag, process: 'node bin/buildbot-nix.mjs start', target: 80 })
    const flags = npmStartFlags()
    emit('idle_rss_npm_start_flags', await idleRss(url, rssDir, flags), 'MiB', { ...tag, process: `node ${flags.join(' ')} bin/buildbot-nix.mjs start (as npm start)`, target: 80 })
  } finally { rmSync(rssDir, { recursive: true, force: true }) }
  const h = await startMaster(db, {
    logLevel: 'warn',
    workers: [localWorker({ name: 'local' })],
    builders: [
      builder({ name: 'trivial', workers: ['local'], steps: [steps.shell({ command: ['true'] })] }),
      builder({ name: 'parent', workers: ['local'], steps: [steps.trigger({ waitForFinish: true, schedulersAndProperties: () => Array.from({ length: FANOUT }, (_, i) => ({ scheduler: 'children', properties: { i } })) })] }),
      builder({ name: 'child', workers: ['local'], collapseRequests: false, steps: [steps.custom({ name: 'noop', run: async () => SUCCESS })] }),
    ],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['trivial'] }), schedulers.force({ name: 'fan', builderNames: ['parent'] }), schedulers.triggerable({ name: 'children', builderNames: ['child'] })],
  })
  try {
    emit('bench_process_rss_at_start', process.memoryUsage().rss / 1048576, 'MiB', tag)

    // Warm up the paths (JIT, statement caches) so the figures are the steady state.
    for (let i = 0; i < 5; i++) await h.waitBuildset((await h.force('force')).bsid)

    const refDir = mkdtempSync(join(tmpdir(), 'bbn-bench-ref-'))
    const ref = await reference(refDir)
    rmSync(refDir, { recursive: true, force: true })

    const cpu0 = cpuMs(), child0 = childrenCpuMs(), t0 = performance.now()
    for (let i = 0; i < BUILDS; i++) {
      const res = await h.waitBuildset((await h.force('force')).bsid)
      if (res !== SUCCESS) throw new Error(`build ${i} ended ${res}`)
    }
    const wall = performance.now() - t0
    const cpu = cpuMs() - cpu0
    const childCpu = childrenCpuMs() - child0
    emit('master_cpu_per_build', cpu / BUILDS, 'ms', { ...tag, builds: BUILDS, children_cpu_ms_per_build: Math.round((childCpu / BUILDS) * 100) / 100, target: 5 })
    emit('wall_per_build', wall / BUILDS, 'ms', { ...tag, builds: BUILDS })
    emit('reference_true_per_run', ref.wall / BUILDS, 'ms', { ...tag, master_cpu_ms: Math.round((ref.cpu / BUILDS) * 100) / 100 })
    emit('wall_overhead_per_build', (wall - ref.wall) / BUILDS, 'ms', { ...tag, target: 10 })

    const f0 = performance.now()
    const res = await h.waitBuildset((await h.force('fan')).bsid, 600_000)
    if (res !== SUCCESS) throw new Error(`fan-out ended ${res}`)
    emit('fanout_time', performance.now() - f0, 'ms', { ...tag, children: FANOUT, target: 3000 })
    emit('rss_after', process.memoryUsage().rss / 1048576, 'MiB', tag)
  } finally {
    await h.stop()
    await db.cleanup()
  }
}
