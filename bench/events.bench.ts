// Event delay between two masters sharing one PostgreSQL database (LISTEN/NOTIFY), one JSON line
// per figure ({"bench":"events","metric":...,"value":...,"unit":...}). Both masters run in this
// process (one clock; they also share one event loop, so figures include that contention):
// `paced`: one event every BENCH_EVENTS_GAP_MS ms (default 5), `burst`: BENCH_EVENTS events
// published at once, in batches of ~200 bytes each, and `large`: 20 KB events (by reference).
// Needs TEST_PG_URL. Run: node --import tsx bench/events.bench.ts
import { testDatabases } from '../test/support/databases.ts'
import { startMaster } from '../test/support/master-harness.ts'
import { localWorker, worker, builder, steps } from '../core/index.ts'

const N = Number(process.env.BENCH_EVENTS ?? 1000)
const GAP = Number(process.env.BENCH_EVENTS_GAP_MS ?? 5)
const emit = (metric: string, value: number, unit: string, extra: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ bench: 'events', metric, value: Math.round(value * 100) / 100, unit, ...extra }))
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! }

const pg = testDatabases().find((d) => d.name === 'postgres')
if (!pg) { console.error('events bench: set TEST_PG_URL (a PostgreSQL admin URL)'); process.exit(0) }
const step = steps.shell({ command: ['true'] })
const a = await startMaster(pg, { masterName: 'bench-a', workers: [localWorker({ name: 'local' })], builders: [builder({ name: 'b', workers: ['local'], steps: [step] })] })
// b has the builder but no worker that connects: it only watches a's builds.
const b = await startMaster(pg, { masterName: 'bench-b', workers: [worker({ name: 'away', password: 'never-connects' })], builders: [builder({ name: 'b', workers: ['away'], steps: [step] })] }, { dbUrl: a.dbUrl })
try {
  async function run(name: string, count: number, gapMs: number, size: number): Promise<void> {
    const sent = new Map<number, number>()
    const delays: number[] = []
    let last = 0
    const done = new Promise<void>((resolve) => {
      const sub = b.master.bus.subscribe(['bench', name, null, 'ping'], (_k, m) => {
        const i = (m as { i: number }).i
        delays.push(performance.now() - sent.get(i)!)
        last = performance.now()
        if (delays.length === count) { sub.unsubscribe(); resolve() }
      })
    })
    const blob = 'x'.repeat(size)
    const t0 = performance.now()
    for (let i = 0; i < count; i++) {
      sent.set(i, performance.now())
      a.master.bus.publish(['bench', name, String(i), 'ping'], { i, blob })
      if (gapMs) await new Promise((r) => setTimeout(r, gapMs))
    }
    await done
    emit(`${name}_delay_p50`, pct(delays, 50), 'ms', { events: count, bytes: size })
    emit(`${name}_delay_p99`, pct(delays, 99), 'ms', { events: count, bytes: size })
    if (!gapMs) emit(`${name}_throughput`, count / ((last - t0) / 1000), 'events/s', { events: count })
  }
  await run('warmup', 50, 2, 100)
  await run('paced', N, GAP, 200)
  await run('burst', N, 0, 200)
  await run('large', Math.min(N, 200), GAP, 20_000)
  // Real builds on a: every event of each (build, steps, logs, requests, buildsets) as b's bus gets it.
  const BUILDS = Number(process.env.BENCH_EVENT_BUILDS ?? 30)
  const at = new Map<string, number>()
  const delays: number[] = []
  const subA = a.master.bus.tap((k) => { at.set(k.join('/'), performance.now()) })
  const subB = ['builds/*/*', 'steps/*/*', 'logs/*/*', 'buildrequests/*/*', 'buildsets/*/*'].map((p) => b.master.bus.subscribe(p, (k) => {
    const t = at.get(k.join('/'))
    if (t !== undefined) delays.push(performance.now() - t)
  }))
  for (let i = 0; i < BUILDS; i++) {
    const { bsid } = await a.addBuildset(['b'])
    const seen = b.waitFor(`buildsets/${bsid}/complete`)
    await a.waitBuildset(bsid)
    await seen
  }
  subA.unsubscribe()
  for (const s of subB) s.unsubscribe()
  emit('build_events_delay_p50', pct(delays, 50), 'ms', { builds: BUILDS, events: delays.length })
  emit('build_events_delay_p99', pct(delays, 99), 'ms', { builds: BUILDS, events: delays.length })
} finally {
  await b.stop()
  await a.stop()
  await pg.cleanup()
}
