import { test } from 'uvu'
import * as assert from 'uvu/assert'
import WebSocket from 'ws'
import { get } from 'node:http'
import { localWorker, worker, builder, steps, definePlugin, Counter, Gauge, SUCCESS, FAILURE, secretsFromObject, secret, hashPassword } from '../../core/index.ts'
import { testDatabases } from '../support/databases.ts'
import { startMaster } from '../support/master-harness.ts'

const sqlite = testDatabases().filter((d) => d.name === 'sqlite')[0]!

/** A plugin that adds its own families, as a cache uploader would. */
const uploads = definePlugin({
  name: 'cache-upload',
  setup(api) {
    let queue: Gauge | undefined
    api.addMetrics((register) => {
      queue = new Gauge({ name: 'bbn_cache_upload_queue', help: 'paths waiting to be uploaded', registers: [register] })
      new Counter({ name: 'bbn_cache_upload_failures_total', help: 'uploads that failed', registers: [register] })
    })
    api.onStart(() => { queue!.set(3) })
  },
})

/** GET with a chosen Host header (fetch does not let a caller set it). */
function getWithHost(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      let body = ''
      res.on('data', (d) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    }).on('error', reject)
  })
}

/** Samples of one family: labels text → value. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line)
    if (m && m[1] === name) out.set(m[2] ?? '', Number(m[3]))
  }
  return out
}

test('/metrics has every family, with builds, queues, outbox, /ws clients and plugin metrics', async () => {
  const h = await startMaster(sqlite, {
    workers: [localWorker({ name: 'local' }), worker({ name: 'away', password: 'never-connects' })],
    builders: [
      builder({ name: 'ok', workers: ['local'], steps: [steps.shell({ command: ['true'] })] }),
      builder({ name: 'bad', workers: ['local'], steps: [steps.shell({ command: ['false'] })] }),
      builder({ name: 'waiting', workers: ['away'], steps: [steps.shell({ command: ['true'] })] }),
    ],
    plugins: [uploads({})],
  })
  try {
    assert.is(await h.waitBuildset((await h.addBuildset(['ok'])).bsid), SUCCESS)
    assert.is(await h.waitBuildset((await h.addBuildset(['bad'])).bsid), FAILURE)
    await h.addBuildset(['waiting'])
    await h.until(() => h.master.brd.builder('waiting')!.queue.length === 1, 'the request to be queued')
    await h.master.data.statuses.queue('forge', { repository: 'acme/app', revision: 'abc123', context: 'ci', state: 'pending' })
    const base = `http://127.0.0.1:${h.master.ports.www}`
    const ws = new WebSocket(`ws://127.0.0.1:${h.master.ports.www}/ws`)
    await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej) })
    try {
      const res = await fetch(`${base}/metrics`)
      assert.is(res.status, 200)
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
      const text = await res.text()
      const families = ['bbn_builds_finished_total', 'bbn_build_duration_seconds', 'bbn_builds_running', 'bbn_buildrequests_queued',
        'bbn_buildrequests_oldest_age_seconds', 'bbn_status_outbox_pending', 'bbn_status_outbox_failed', 'bbn_workers_connected',
        'bbn_ws_clients', 'bbn_event_loop_lag_seconds', 'process_resident_memory_bytes', 'bbn_cache_upload_queue', 'bbn_cache_upload_failures_total']
      for (const f of families) assert.ok(text.includes(`# TYPE ${f} `), `family ${f} missing`)
      // One TYPE line per family: a plugin's text does not repeat core's.
      const types = text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2])
      assert.is(new Set(types).size, types.length)
      const done = samples(text, 'bbn_builds_finished_total')
      assert.is(done.get('{builder="ok",project="",result="success"}'), 1)
      assert.is(done.get('{builder="bad",project="",result="failure"}'), 1)
      assert.is(samples(text, 'bbn_build_duration_seconds_count').get('{builder="ok",project=""}'), 1)
      assert.is(samples(text, 'bbn_buildrequests_queued').get('{builder="waiting",project=""}'), 1)
      assert.is(samples(text, 'bbn_buildrequests_queued').get('{builder="ok",project=""}'), 0)
      assert.ok(samples(text, 'bbn_buildrequests_oldest_age_seconds').get('{builder="waiting",project=""}')! >= 0)
      assert.is(samples(text, 'bbn_status_outbox_pending').get('{reporter="forge"}'), 1)
      assert.is(samples(text, 'bbn_ws_clients').get(''), 1)
      assert.is(samples(text, 'bbn_workers_connected').get(''), 1)
      assert.is(samples(text, 'bbn_cache_upload_queue').get(''), 3)
      assert.ok(samples(text, 'bbn_event_loop_lag_seconds').has('{quantile="0.99"}'))
    } finally { ws.close() }

    const health = await fetch(`${base}/health`)
    assert.is(health.status, 200)
    assert.equal(await health.json(), { status: 'ok' })
    const ready = await getWithHost(h.master.ports.www, '/ready', 'probe.internal')
    assert.is(ready.status, 200, 'a probe by any host name is answered')
    assert.equal(JSON.parse(ready.body), { status: 'ready', checks: {} })
    // /metrics is not a probe: a foreign Host is refused.
    assert.is((await getWithHost(h.master.ports.www, '/metrics', 'evil.example')).status, 421)
  } finally { await h.stop() }
})

test('who reads /metrics: a login on a private master, only the bearer token with www.metrics.token, nobody with false', async () => {
  const www = { access: 'private' as const, auth: { users: { alice: hashPassword('pw-alice') } } }
  const h = await startMaster(sqlite, {
    secretsProviders: [secretsFromObject({ 'metrics-token': 'a-scrape-token-of-32-characters!' })],
    www: { ...www, metrics: { token: secret('metrics-token') } },
  })
  try {
    const url = `http://127.0.0.1:${h.master.ports.www}/metrics`
    const alice = { authorization: `Basic ${Buffer.from('alice:pw-alice').toString('base64')}` }
    assert.is((await fetch(url)).status, 401)
    assert.is((await fetch(url, { headers: { authorization: 'Bearer wrong-token' } })).status, 403)
    assert.is((await fetch(url, { headers: alice })).status, 403, 'with a token set, a login does not read it')
    const ok = await fetch(url, { headers: { authorization: 'Bearer a-scrape-token-of-32-characters!' } })
    assert.is(ok.status, 200)
    assert.ok((await ok.text()).includes('# TYPE bbn_builds_finished_total counter'))
    // Without a token: read like the REST API, so a private master wants a login.
    await h.master.reconfigure(await h.resolve({ www }))
    assert.is((await fetch(url)).status, 403)
    assert.is((await fetch(url, { headers: alice })).status, 200)
    await h.master.reconfigure(await h.resolve({ www: { ...www, metrics: false } }))
    const off = await fetch(url, { headers: alice })
    assert.is(off.status, 404)
    assert.match(await off.text(), /www\.metrics: false/)
  } finally { await h.stop() }
})

test("a plugin's metric outside its own prefix is a config error", async () => {
  const bad = definePlugin({ name: 'stray', setup(api) { api.addMetrics((r) => { new Gauge({ name: 'queue_length', help: 'x', registers: [r] }) }) } })
  const err = await startMaster(sqlite, { plugins: [bad({})] }).then(() => undefined, (e: Error) => e)
  assert.ok(err)
  assert.match(err!.message, /metric 'queue_length' must be named 'bbn_stray_…'/)
})

test.run()
