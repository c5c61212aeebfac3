// Build-matrix figures, one JSON line per matrix size K, each beside its floor measured in the
// same process right before and right after it (the machine is shared: ratios, not absolutes).
//
// Workload: a flake of K trivial checks plus a failing check and its dependent, two evaluation
// errors, a check printing 20,000 log lines and a three-output derivation; fresh outputs each run.
// Floor: one `nix eval --json` of every drvPath, then one
// `nix-store --realise --max-jobs auto --keep-going` of them all (what nix alone takes).
// The master runs as deployed (`bin/buildbot-nix.mjs start` with `npm start`'s node flags) in its
// own process, forced over JSON-RPC and watched over `/ws`, with NIX_MATRIX_WATCHERS (10) more
// `/ws` clients following every job and build as a matrix page does.
// Figures: force → matrix done against the floor (`ratio_to_floor`), failure reported after the
// failing builder ended (`first_failure_reported_after_ms`), split into nix's part (builder end →
// the master read nix's failure line and marked the row) and ours (marked → event on `/ws`),
// force → first child, the master's peak RSS (and its anonymous part: the rest is node's own
// binary and libraries), log ingest of the 20,000-line build (its log's MB over the time from its
// builder's first line to its child build being done), and CPU seconds (the master, and nix with
// its builders) against the floor's: a figure the machine's load does not change much.
//
// Run: node --import tsx bench/nix-matrix.bench.ts   (NIX_MATRIX_K=200,1000,5000 to choose sizes;
// NIX_MATRIX_FLOOR=0 to measure the matrix alone, without floors and ratios)
import { execFile, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import { makeFlakeRepo, type DrvSpec } from '../test/fixtures/nix/make-flake.ts'
import { freePort } from '../test/support/git-servers.ts'
import { npmStartFlags } from './npm-start-flags.ts'
import type { NixJobRow } from '../plugins/nix/jobs-store.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
// The master runs with the node flags of `npm start` (read from package.json), plus any in
// NIX_MATRIX_NODE_FLAGS (to try others).
const MASTER_FLAGS = [...npmStartFlags(), ...(process.env.NIX_MATRIX_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean)]

// Browsers watching the matrix while it runs.
const WATCHERS = Number(process.env.NIX_MATRIX_WATCHERS ?? 10)
const sizes = (process.env.NIX_MATRIX_K ?? '200,1000').split(',').map(Number)
const tmp = mkdtempSync(join(tmpdir(), 'nix-matrix-bench-'))
// The failing builder (a nixbld user) writes the time it failed in here.
chmodSync(tmp, 0o777)
const CHATTY_LINES = 20_000
const chattyLine = (i: number): string => `line ${i} of a chatty build: the quick brown fox jumps over the lazy dog\n`
// The chatty builder prints a ready file at once (a shell loop would be slower than the master),
// so the time until its log is stored is the master's (and nix's relaying), not the builder's.
const chattyFile = join(tmp, 'chatty.log')
writeFileSync(chattyFile, Array.from({ length: CHATTY_LINES }, (_, i) => chattyLine(i)).join(''))
chmodSync(chattyFile, 0o644)

function workload(k: number, stamp: string): Record<string, DrvSpec> {
  const chattyStamp = `${stamp}-chatty`
  const out: Record<string, DrvSpec> = {}
  for (let i = 0; i < k; i++) out[`c${i}`] = {}
  out.bad = { script: `echo bad breaks here; /bin/date +%s%N > ${stamp}; exit 1` }
  out.badDep = { deps: ['bad'] }
  out.evalError1 = { throws: 'first evaluation error' }
  out.evalError2 = { throws: 'second evaluation error' }
  out.chatty = { script: `/bin/date +%s%N > ${chattyStamp}-start; /bin/cat ${chattyFile}; /bin/date +%s%N > ${chattyStamp}-end; echo chatty > $out` }
  out.multi = { outputs: ['out', 'dev', 'doc'] }
  return out
}

/**
 * CPU seconds of this process and of its reaped children (nix, its builders, nix-store …) so far,
 * from /proc/self/stat: what the work cost whatever else the machine is doing.
 */
function cpuSeconds(): { self: number; children: number } {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')
  // utime, stime, cutime, cstime are fields 14–17 (1-based, counting pid and comm).
  const [ut, st, cut, cst] = [11, 12, 13, 14].map((i) => Number(f[i]) / 100)
  return { self: ut! + st!, children: cut! + cst! }
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve) => execFile(cmd, args, { maxBuffer: 256 << 20, encoding: 'utf8' }, (_err, stdout) => resolve(stdout)))
}

/** The floor: one evaluation of every drvPath, then one realise of them all. */
async function floor(k: number, tag: string): Promise<{ ms: number; cpu: number }> {
  const dir = mkdtempSync(join(tmp, `floor-${k}-${tag}-`))
  chmodSync(dir, 0o777)
  const repo = join(dir, 'repo')
  makeFlakeRepo(repo, { checks: workload(k, join(dir, 'failed-at')), salt: randomBytes(6).toString('hex') })
  const c0 = cpuSeconds()
  const t0 = performance.now()
  const json = await run('nix', ['eval', '--json', `git+file://${repo}#checks.x86_64-linux`, '--apply',
    'builtins.mapAttrs (n: v: let r = builtins.tryEval v.drvPath; in if r.success then r.value else null)'])
  const drvs = Object.values(JSON.parse(json) as Record<string, string | null>).filter((d): d is string => !!d)
  await run('nix-store', ['--realise', '--max-jobs', 'auto', '--keep-going', ...drvs])
  const ms = performance.now() - t0
  const c1 = cpuSeconds()
  return { ms, cpu: c1.children - c0.children }
}

/** Fields of /proc/<pid>/stat after the command: utime, stime, cutime, cstime in seconds. */
function procCpu(pid: number): { self: number; children: number } {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  const [ut, st, cut, cst] = [11, 12, 13, 14].map((i) => Number(f[i]) / 100)
  return { self: ut! + st!, children: cut! + cst! }
}

/** VmRSS, RssAnon and RssFile of a process, in KiB. */
function procRss(pid: number): { rss: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
  return { rss: kib('VmRSS'), anon: kib('RssAnon'), file: kib('RssFile') }
}

/** A `/ws` client consuming `paths`, once the master acknowledged every subscription. */
function subscribed(port: number, paths: string[], onEvent: (key: string, msg: Record<string, unknown>) => void): Promise<WebSocket> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`)
  return new Promise((resolve, reject) => {
    let acked = 0
    socket.on('error', reject)
    socket.on('open', () => paths.forEach((path, i) => socket.send(JSON.stringify({ cmd: 'startConsuming', path, _id: i + 1 }))))
    socket.on('message', (d) => {
      const f = JSON.parse(String(d)) as { k?: string; m?: Record<string, unknown>; code?: number }
      if (f.code === 200 && ++acked === paths.length) resolve(socket)
      if (f.k && f.m) onEvent(f.k, f.m)
    })
  })
}

/**
 * The matrix on a master as deployed: `bin/buildbot-nix.mjs start` (core bundled, no TypeScript
 * loader) with `npm start`'s V8 flags, in its own process, forced over JSON-RPC and watched over
 * `/ws` like the UI does; its RSS and CPU are read from /proc.
 */
async function matrix(k: number): Promise<Record<string, unknown>> {
  // Its own directory per run (NIX_MATRIX_K may name a size twice).
  const runDir = mkdtempSync(join(tmp, `matrix-${k}-`))
  chmodSync(runDir, 0o777)
  const repo = join(runDir, 'repo')
  const stamp = join(runDir, 'failed-at')
  makeFlakeRepo(repo, { checks: workload(k, stamp), salt: randomBytes(6).toString('hex') })
  const dir = join(runDir, 'master')
  mkdirSync(dir)
  const port = await freePort()
  const base = `http://127.0.0.1:${port}/`
  const config = join(dir, 'master.config.ts')
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
  writeFileSync(config, `import { defineMaster, localWorker } from ${JSON.stringify(join(root, 'core/index.ts'))}
import { nix } from ${JSON.stringify(join(root, 'plugins/nix/index.ts'))}
export default defineMaster({
  basedir: ${JSON.stringify(dir)}, db: 'sqlite:state.sqlite', logLevel: 'warn', www: { host: '127.0.0.1', port: ${port} },
  // Children waiting on a shared nix process are cheap: let many run at once (nix bounds real builds).
  workers: [localWorker({ name: 'local', maxBuilds: ${Number(process.env.NIX_MATRIX_MAX_BUILDS ?? 256)} })],
  plugins: [nix({ projects: [{ name: 'bench/matrix', url: ${JSON.stringify(repo)} }], workers: ['local'], shareNixProcesses: ${process.env.NIX_MATRIX_SHARE !== '0'} })],
})
`)
  const child = spawn(process.execPath, [...MASTER_FLAGS, join(root, 'bin/buildbot-nix.mjs'), 'start', '-c', config], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const pid = child.pid!
  const sockets: WebSocket[] = []
  try {
    const api = async (path: string, init?: RequestInit): Promise<Record<string, unknown>> => {
      const res = await fetch(`${base}api/v2/${path}`, init)
      if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`)
      return res.json() as Promise<Record<string, unknown>>
    }
    let buildBuilder: number | undefined
    for (let i = 0; buildBuilder === undefined; i++) {
      if (child.exitCode != null) throw new Error(`the master exited with ${child.exitCode} before starting`)
      if (i > 1200) throw new Error('the master did not start within 120 s')
      await new Promise((r) => setTimeout(r, 100))
      const found = await api(`builders?name=${encodeURIComponent('bench/matrix/nix-build')}`).catch(() => undefined)
      buildBuilder = (found?.builders as { builderid: number }[] | undefined)?.[0]?.builderid
    }
    let firstChild = 0
    let redAt = 0
    // When the child marked the failed row: right after the master read nix's failure line.
    let markedAt = 0
    let chatty: NixJobRow | undefined
    let chattyDoneAt = 0
    // Watchers: browsers with the matrix open (every job's and every build's events), consuming
    // what they get; the master's memory and CPU are measured with them.
    let watcherEvents = 0
    const watched = await Promise.all(Array.from({ length: WATCHERS }, () => subscribed(port, ['builds/*/nixjobs/*/*', 'builds/*/*'], () => { watcherEvents++ })))
    sockets.push(...watched)
    sockets.push(await subscribed(port, ['builds/*/new', 'builds/*/nixjobs/*/update'], (key, m) => {
      if (!key.includes('/nixjobs/')) {
        if (m.builderid === buildBuilder) firstChild ||= performance.now()
        return
      }
      const j = m as unknown as NixJobRow
      if (j.attr?.endsWith('.bad') && j.state === 'failed' && !redAt) { redAt = Date.now(); markedAt = (j.complete_at ?? 0) * 1000 }
      if (j.attr?.endsWith('.chatty') && j.complete_at != null && !chatty) { chatty = j; chattyDoneAt = Date.now() }
    }))
    // The peak RSS and how much of it is anonymous memory (the rest: node's own binary and libraries).
    let peak = procRss(pid)
    const sampler = setInterval(() => { try { const m = procRss(pid); if (m.rss > peak.rss) peak = m } catch { /* exited */ } }, 100)
    const c0 = procCpu(pid)
    const t0 = performance.now()
    const forced = await api('forceschedulers/bench-matrix-force', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'force', id: 1, params: { reason: 'bench' } }),
    })
    const bsid = (forced.result as [number, unknown])[0]
    let result: number | undefined
    while (result === undefined) {
      await new Promise((r) => setTimeout(r, 100))
      const bs = (await api(`buildsets/${bsid}`)).buildsets as { complete: boolean; results: number }[]
      if (bs[0]?.complete) result = bs[0].results
      if (performance.now() - t0 > 3_600_000) throw new Error('the matrix did not finish within an hour')
    }
    const total = performance.now() - t0
    const c1 = procCpu(pid)
    clearInterval(sampler)
    const failedAtNs = BigInt(readFileSync(stamp, 'utf8').trim())
    // Log ingest: the chatty log's bytes over the time from its builder's first line to its
    // child build being done (log stored, outputs checked), beside the builder's own run time.
    let ingest: number | null = null
    let chattyBuilderMs: number | null = null
    let chattyLagMs: number | null = null
    if (chatty?.child_buildid) {
      const ns = (f: string): number => Number(BigInt(readFileSync(`${stamp}-chatty-${f}`, 'utf8').trim()) / 1_000_000n)
      const start = ns('start')
      const end = ns('end')
      let bytes = 0
      for (let i = 0; i < CHATTY_LINES; i++) bytes += chattyLine(i).length
      ingest = +(bytes / 1e6 / ((chattyDoneAt - start) / 1000)).toFixed(2)
      chattyBuilderMs = end - start
      chattyLagMs = chattyDoneAt - end
    }
    return {
      result, total, first_child_ms: Math.round(firstChild - t0), watcher_events: watcherEvents,
      cpu_master_s: +(c1.self - c0.self).toFixed(2), cpu_children_s: +(c1.children - c0.children).toFixed(2),
      first_failure_reported_after_ms: redAt ? Math.round(redAt - Number(failedAtNs / 1_000_000n)) : null,
      nix_printed_failure_after_ms: markedAt ? Math.round(markedAt - Number(failedAtNs / 1_000_000n)) : null,
      first_failure_after_nix_printed_ms: redAt && markedAt ? Math.round(redAt - markedAt) : null,
      rss_peak_mib: Math.round(peak.rss / 1024), rss_anon_at_peak_mib: Math.round(peak.anon / 1024), rss_file_at_peak_mib: Math.round(peak.file / 1024),
      chatty_log_mb_per_s: ingest, chatty_builder_ms: chattyBuilderMs, chatty_done_after_builder_ms: chattyLagMs,
    }
  } finally {
    for (const w of sockets) w.close()
    child.kill('SIGTERM')
    await exited
  }
}

try {
  for (const k of sizes) {
    // Paired references: the floor right before and right after the matrix, in this process.
    // NIX_MATRIX_FLOOR=0 skips the floors (for the master's own figures at large K): no ratios then.
    const withFloor = process.env.NIX_MATRIX_FLOOR !== '0'
    const none = { ms: Number.NaN, cpu: Number.NaN }
    const before = withFloor ? await floor(k, 'a') : none
    const m = await matrix(k)
    const after = withFloor ? await floor(k, 'b') : none
    const ref = (before.ms + after.ms) / 2
    const refCpu = (before.cpu + after.cpu) / 2
    const total = m.total as number
    const cpu = (m.cpu_master_s as number) + (m.cpu_children_s as number)
    console.log(JSON.stringify({
      bench: 'nix.matrix', k, shared_nix_processes: process.env.NIX_MATRIX_SHARE !== '0', ui_watchers: WATCHERS, ui_watcher_events: m.watcher_events, result: m.result,
      push_to_done_ms: Math.round(total), floor_ms: Math.round(ref), floor_before_ms: Math.round(before.ms), floor_after_ms: Math.round(after.ms),
      ratio_to_floor: +(total / ref).toFixed(2), target_ratio: 1.5,
      cpu_s: +cpu.toFixed(2), cpu_master_s: m.cpu_master_s, cpu_nix_s: m.cpu_children_s, floor_cpu_s: +refCpu.toFixed(2), cpu_ratio_to_floor: +(cpu / refCpu).toFixed(2),
      load_average: +loadavg()[0]!.toFixed(1),
      first_failure_reported_after_ms: m.first_failure_reported_after_ms, nix_printed_failure_after_ms: m.nix_printed_failure_after_ms,
      first_failure_after_nix_printed_ms: m.first_failure_after_nix_printed_ms, target_first_failure_ms: 1000,
      first_child_ms: m.first_child_ms, rss_peak_mib: m.rss_peak_mib, rss_anon_at_peak_mib: m.rss_anon_at_peak_mib, rss_file_at_peak_mib: m.rss_file_at_peak_mib, target_rss_mib_at_5000: 150,
      chatty_log_lines: CHATTY_LINES, chatty_log_mb_per_s: m.chatty_log_mb_per_s, chatty_builder_ms: m.chatty_builder_ms, chatty_done_after_builder_ms: m.chatty_done_after_builder_ms,
    }))
  }
} finally {
  rmSync(tmp, { recursive: true, force: true })
}
