// /ws event lag with 100 subscribed clients while 200 real builds run on the local worker.
// The clients live in a child process (so the master is measured as deployed: it must not wait
// for them); lag = receive time in the client minus publish time on the master's bus, on the
// same machine clock. Prints JSON lines. Run: node --import tsx bench/ws-live.bench.ts
import { fork } from 'node:child_process'
import { rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { localWorker, builder, steps, schedulers } from '../core/index.ts'
import { testDatabases } from '../test/support/databases.ts'
import { startMaster } from '../test/support/master-harness.ts'

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 100)
const BUILDS = Number(process.env.BENCH_BUILDS ?? 200)
const now = () => performance.timeOrigin + performance.now()

if (process.argv[2] === 'clients') {
  // Child: open the sockets, subscribe, report readiness, then collect receive times per key.
  const url = process.argv[3]!
  const received: Record<string, number[]> = {}
  let ready = 0
  for (let i = 0; i < CLIENTS; i++) {
    const ws = new WebSocket(url)
    ws.on('open', () => ws.send(JSON.stringify({ cmd: 'startConsuming', path: 'builds/*/*', _id: 1 })))
    ws.on('message', (d) => {
      const t = now()
      const f = JSON.parse(String(d)) as { k?: string; code?: number }
      if (f.code === 200 && ++ready === CLIENTS) process.send!({ ready: true })
      if (f.k) (received[f.k] ??= []).push(t)
    })
  }
  process.on('message', (m: { done?: boolean }) => { if (m.done) process.send!({ received }, () => process.exit(0)) })
} else {
  const [db] = testDatabases()
  const h = await startMaster(db!, {
    logLevel: 'warn', collapseRequests: false,
    workers: [localWorker({ name: 'local', maxBuilds: 4 })],
    builders: [builder({ name: 'trivial', workers: ['local'], steps: [steps.shell({ name: 'true', command: ['true'] })] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['trivial'] })],
  })
  const published = new Map<string, number>()
  h.master.bus.subscribe('builds/*/*', (key) => { const k = key.join('/'); if (!published.has(k)) published.set(k, now()) })
  const child = fork(fileURLToPath(import.meta.url), ['clients', `ws://127.0.0.1:${h.master.ports.www}/ws`], { execArgv: ['--import', 'tsx'] })
  await new Promise<void>((r) => child.once('message', () => r()))
  const t0 = performance.now()
  const sets = await Promise.all(Array.from({ length: BUILDS }, () => h.addBuildset(['trivial'])))
  for (const s of sets) await h.waitBuildset(s.bsid, 120_000)
  const wall = performance.now() - t0
  await new Promise((r) => setTimeout(r, 500))
  child.send({ done: true })
  const { received } = await new Promise<{ received: Record<string, number[]> }>((r) => child.once('message', (m) => r(m as never)))
  const lags: number[] = []
  for (const [k, times] of Object.entries(received)) { const p = published.get(k); if (p != null) for (const t of times) lags.push(t - p) }
  lags.sort((a, b) => a - b)
  const pct = (q: number) => Math.round(lags[Math.min(lags.length - 1, Math.floor(q * lags.length))]! * 100) / 100
  const out = (metric: string, value: number, unit = 'ms') => console.log(JSON.stringify({ bench: 'ws-live', metric, value, unit, clients: CLIENTS, builds: BUILDS, frames: lags.length, db: db!.name }))
  out('ws_lag_p50_ms', pct(0.5))
  out('ws_lag_p99_ms', pct(0.99))
  out('ws_lag_max_ms', pct(1))
  out('builds_wall_ms', Math.round(wall))
  out('frames_expected', published.size * CLIENTS, 'count')
  await h.stop()
  rmSync(h.basedir, { recursive: true, force: true })
}
