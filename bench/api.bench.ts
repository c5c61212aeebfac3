// REST latency with 10,000 builds and /ws event lag with 100 clients. Prints one JSON line per figure.
import { request } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { Bus } from '../core/bus/bus.ts'
import { connectDb } from '../core/db/connect.ts'
import { createData } from '../core/data/data.ts'
import { createLogger } from '../core/util/logger.ts'
import { createHttpServer } from '../core/http/server.ts'
import { engineControl } from '../core/http/test-harness.ts'
import type { HttpSurface } from '../core/http/master-surface.ts'

const emit = (metric: string, value: number, extra: Record<string, unknown> = {}): void =>
  console.log(JSON.stringify({ bench: 'api', metric, value: Math.round(value * 100) / 100, ...extra }))
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]! }

const BUILDS = 10_000
const BUILDERS = 50
const tmp = mkdtempSync(join(tmpdir(), 'bench-api-'))
const db = await connectDb(`sqlite:${join(tmp, 'state.sqlite')}`)
try {
  const k = db.k
  const now = Math.floor(Date.now() / 1000)
  await k.transaction().execute(async (trx) => {
    await trx.insertInto('masters').values({ name: 'm1', active: 1, last_active: now }).execute()
    await trx.insertInto('workers').values({ name: 'w1', info: '{}', paused: 0, pause_reason: null, graceful: 0 }).execute()
    for (let b = 1; b <= BUILDERS; b++) {
      await trx.insertInto('builders').values({ name: `builder-${b}`, description: null, projectid: null, tags: '["nix"]' }).execute()
      await trx.insertInto('builder_masters').values({ builderid: b, masterid: 1 }).execute()
    }
    await trx.insertInto('buildsets').values({ external_idstring: null, reason: 'bench', submitted_at: now, complete: 1, complete_at: now, results: 0,
      parent_buildid: null, parent_relationship: null, rebuilt_buildid: null, scheduler: 'bench', properties: '{}' }).execute()
    for (let i = 0; i < BUILDS; i += 500) {
      const rows = Array.from({ length: Math.min(500, BUILDS - i) }, (_, j) => i + j)
      await trx.insertInto('buildrequests').values(rows.map((n) => ({ buildsetid: 1, builderid: (n % BUILDERS) + 1, priority: 0, complete: 1, results: 0,
        submitted_at: now, complete_at: now, waited_for: 0 }))).execute()
      await trx.insertInto('builds').values(rows.map((n) => ({ number: Math.floor(n / BUILDERS) + 1, builderid: (n % BUILDERS) + 1, buildrequestid: n + 1,
        workerid: 1, masterid: 1, started_at: now - BUILDS + n, complete_at: now - BUILDS + n + 1, state_string: 'build successful', results: n % 7 ? 0 : 2,
        properties: '{"owner": ["bench", "Force Build Form"]}' }))).execute()
    }
  })

  const bus = new Bus()
  const data = createData({ db, bus })
  data.setMasterId(1)
  const surface: HttpSurface = {
    data, bus, control: (await engineControl(data)).control, log: createLogger({ level: 'silent' }), title: 'bench', buildbotURL: 'http://127.0.0.1/',
    www: { host: '127.0.0.1', port: 0, auth: { kind: 'none' }, authz: 'default', access: 'public' },
    rpcActions: () => [], restEndpoints: () => [], changeHooks: () => [],
    loginProviders: () => [], roleMatchers: () => [], projectOf: async () => null,
  }
  let t0 = performance.now()
  const server = createHttpServer(surface)
  const { port } = await server.listen()

  /** One GET on a fresh connection; resolves with the body length and the elapsed milliseconds. */
  const get = (path: string) => new Promise<{ ms: number; len: number; status: number }>((resolve, reject) => {
    const start = performance.now()
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { accept: 'application/json' } }, (res) => {
      let len = 0
      res.on('data', (c: Buffer) => { len += c.length })
      res.on('end', () => resolve({ ms: performance.now() - start, len, status: res.statusCode ?? 0 }))
    })
    req.on('error', reject)
    req.end()
  })
  const first = await get('/api/v2')
  emit('startup_to_first_answer_ms', performance.now() - t0, { status: first.status })

  for (const [name, path] of [['builds', '/api/v2/builds?limit=100&order=-buildid'], ['builders', '/api/v2/builders'],
    ['builds_filtered', '/api/v2/builds?builderid=7&results=2&limit=20&order=-number']] as const) {
    for (let i = 0; i < 20; i++) await get(path)
    const samples: number[] = []
    let len = 0
    for (let i = 0; i < 200; i++) {
      const r = await get(path)
      if (r.status !== 200) throw new Error(`${path}: ${r.status}`)
      samples.push(r.ms)
      len = r.len
    }
    emit(`${name}_p50_ms`, pct(samples, 0.5), { bytes: len, samples: samples.length })
    emit(`${name}_p90_ms`, pct(samples, 0.9))
  }

  // 100 clients subscribed to builds/*/*; 200 builds' new/update/finished published on the bus.
  const CLIENTS = 100
  const sent = new Map<string, number>()
  const lags: number[] = []
  let received = 0
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
    ws.on('message', (d) => {
      const f = JSON.parse(String(d)) as { k?: string; code?: number }
      if (f.code === 200) return resolve(ws)
      if (f.k) { lags.push(performance.now() - sent.get(f.k)!); received++ }
    })
    ws.on('open', () => ws.send(JSON.stringify({ cmd: 'startConsuming', path: 'builds/*/*', _id: 1 })))
    ws.on('error', reject)
  })))
  t0 = performance.now()
  for (let b = 1; b <= 200; b++) {
    const build = (await data.builds.getBuild(b))!
    for (const ev of ['new', 'update', 'finished']) {
      const key = `builds/${b}/${ev}`
      sent.set(key, performance.now())
      bus.publish(['builds', String(b), ev], { ...build, properties: {} })
    }
    await new Promise((r) => setTimeout(r, 2))
  }
  while (received < CLIENTS * 600) await new Promise((r) => setTimeout(r, 5))
  emit('ws_lag_p50_ms', pct(lags, 0.5), { clients: CLIENTS, events: 600, frames: received })
  emit('ws_lag_p99_ms', pct(lags, 0.99))
  emit('ws_fanout_total_ms', performance.now() - t0)
  for (const c of clients) c.close()
  await server.close()
} finally {
  await db.close()
  rmSync(tmp, { recursive: true, force: true })
}
