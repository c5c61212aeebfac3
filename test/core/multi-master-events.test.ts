import { test } from 'uvu'
import * as assert from 'uvu/assert'
import WebSocket from 'ws'
import pgLib from 'pg'
import { localWorker, worker, builder, steps, SUCCESS } from '../../core/index.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'

// Events across masters need PostgreSQL (LISTEN/NOTIFY); on sqlite there is one master.
const pg = testDatabases().filter((d) => d.name === 'postgres')
if (!pg.length) test.skip('events across masters (needs TEST_PG_URL)', () => {})

/** A `/ws` client consuming `builds/*\/*` that keeps every event frame. */
async function wsClient(port: number) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
  const events: { k: string; m: Record<string, unknown> }[] = []
  let wake: (() => void) | undefined
  ws.on('message', (d) => {
    const f = JSON.parse(String(d))
    if (f.k) { events.push(f); wake?.() }
  })
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej) })
  const acked = new Promise((res) => ws.once('message', res))
  ws.send(JSON.stringify({ cmd: 'startConsuming', path: 'builds/*/*', _id: 1 }))
  await acked
  return {
    events, close: () => ws.close(),
    /** Resolves once an event with key `k` arrived (rejects after `ms`, the harness's bound). */
    async until(k: string, ms = 30_000): Promise<void> {
      const deadline = Date.now() + ms
      while (!events.some((e) => e.k === k)) {
        if (Date.now() > deadline) throw new Error(`no '${k}' on the /ws client within ${ms} ms; got ${events.map((e) => e.k).join(', ')}`)
        await new Promise<void>((r) => { wake = r; setTimeout(r, 200) })
      }
    },
  }
}

/** Runs one build of `b` on master a; resolves with the `builds/<id>/*` events a published, in order. */
async function buildOnA(a: MasterHarness): Promise<{ buildid: number; seq: string[] }> {
  const seen: { k: string; state: unknown }[] = []
  const sub = a.master.bus.subscribe('builds/*/*', (k, m) => seen.push({ k: k.join('/'), state: (m as { state_string?: unknown }).state_string }))
  try {
    assert.is(await a.waitBuildset((await a.addBuildset(['b'])).bsid), SUCCESS)
  } finally { sub.unsubscribe() }
  const buildid = Number(seen.find((e) => e.k.endsWith('/new'))!.k.split('/')[1])
  return { buildid, seq: seen.filter((e) => e.k.startsWith(`builds/${buildid}/`)).map((e) => `${e.k} ${e.state}`) }
}

const seqOn = (c: Awaited<ReturnType<typeof wsClient>>, buildid: number) =>
  c.events.filter((e) => e.k.startsWith(`builds/${buildid}/`)).map((e) => `${e.k} ${e.m.state_string}`)

eachDb(test, "a /ws client on master b sees the events of a build master a runs, in order, also after lost connections", async (start) => {
  const admin = new pgLib.Client({ connectionString: process.env.TEST_PG_URL })
  await admin.connect()
  // Master b logs in as its own role, so the test can stop it from reconnecting (and nothing else).
  const role = `bbn_t_role_${process.pid}`
  await admin.query(`DROP ROLE IF EXISTS ${role}`)
  await admin.query(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD 'pw'`)
  try {
    const step = steps.shell({ command: ['sh', '-c', 'echo built'] })
    const a = await start({
      masterName: 'master-a', workers: [localWorker({ name: 'local' })],
      builders: [builder({ name: 'b', workers: ['local'], steps: [step] })],
    })
    // Master b has the builder but no worker that connects: every build runs on a.
    const bUrl = new URL(a.dbUrl)
    bUrl.username = role
    bUrl.password = 'pw'
    const b = await start({
      masterName: 'master-b', workers: [worker({ name: 'away', password: 'never-connects' })],
      builders: [builder({ name: 'b', workers: ['away'], steps: [step] })],
    }, { dbUrl: bUrl.toString() })
    const dbName = bUrl.pathname.slice(1)
    const client = await wsClient(b.master.ports.www)
    try {
      // 1. Both connected.
      const first = await buildOnA(a)
      await client.until(`builds/${first.buildid}/finished`)
      assert.equal(seqOn(client, first.buildid), first.seq)
      assert.ok(first.seq.length >= 3, 'new, updates and finished')

      // 2. Every connection of master a is terminated; a reconnects and b still gets a's events.
      const before = a.master.eventStats()!.reconnects
      const killed = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2', [dbName, 'buildbot-nix master-a'])
      assert.ok((killed.rowCount ?? 0) >= 2, 'master a had its pool and its listener connected')
      await a.until(() => a.master.eventStats()!.reconnects > before, "master a's listener to reconnect")
      const second = await buildOnA(a)
      await client.until(`builds/${second.buildid}/finished`)
      assert.equal(seqOn(client, second.buildid), second.seq)

      // 3. Master b's listener is cut and cannot come back while a runs a build: b catches up
      //    from the database once it reconnects, and its client sees every event in order.
      await admin.query(`ALTER ROLE ${role} NOLOGIN`)
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'buildbot-nix master-b' AND query LIKE 'LISTEN%'", [dbName])
      await b.until(() => b.master.eventStats()!.connected === false, "master b's listener to notice")
      // Meanwhile b is not ready for a load balancer, and says why.
      const notReady = await fetch(`http://127.0.0.1:${b.master.ports.www}/ready`)
      assert.is(notReady.status, 503)
      assert.match(JSON.stringify(await notReady.json()), /other masters' events/)
      const third = await buildOnA(a)
      assert.not.ok(client.events.some((e) => e.k.startsWith(`builds/${third.buildid}/`)), 'b got events while disconnected')
      const caughtBefore = b.master.eventStats()!.caughtUp
      await admin.query(`ALTER ROLE ${role} LOGIN`)
      await client.until(`builds/${third.buildid}/finished`)
      assert.equal(seqOn(client, third.buildid), third.seq)
      assert.ok(b.master.eventStats()!.caughtUp - caughtBefore >= third.seq.length, 'the events came from the catch-up read')
      const metrics = await (await fetch(`http://127.0.0.1:${b.master.ports.www}/metrics`)).text()
      assert.match(metrics, /^bbn_events_shared_total\{direction="caught_up"\} [1-9]/m)
      assert.is((await fetch(`http://127.0.0.1:${b.master.ports.www}/ready`)).status, 200)
      // An event over the 8,000-byte NOTIFY limit goes by reference, in order with small ones;
      // a does not hear its own events twice.
      const got: { n: number; size: number }[] = []
      let echoes = 0
      const echo = a.master.bus.subscribe('custom/*/ping', () => { echoes++ })
      const done = new Promise<void>((resolve) => {
        const sub = b.master.bus.subscribe('custom/*/ping', (_k, m) => {
          const msg = m as { n: number; blob: string }
          got.push({ n: msg.n, size: msg.blob.length })
          if (msg.n === 3) { sub.unsubscribe(); resolve() }
        })
      })
      for (const [n, blob] of [[1, 'x'], [2, 'y'.repeat(20_000)], [3, 'z']] as const) {
        a.master.bus.publish(['custom', String(n), 'ping'], { n, blob })
        await new Promise((r) => setImmediate(r)) // each in its own batch
      }
      await done
      echo.unsubscribe()
      assert.equal(got, [{ n: 1, size: 1 }, { n: 2, size: 20_000 }, { n: 3, size: 1 }])
      assert.is(echoes, 3)
      // Each build's events arrived exactly once.
      for (const x of [first, second, third]) assert.is(seqOn(client, x.buildid).length, x.seq.length)
    } finally { client.close() }
  } finally {
    await admin.query(`ALTER ROLE ${role} LOGIN`).catch(() => {})
    await admin.end()
  }
}, pg)

test.run()
