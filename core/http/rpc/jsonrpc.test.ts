import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { builder, definePlugin, localWorker, schedulers, steps, CANCELLED, SUCCESS } from '../../index.ts'
import { testDatabases } from '../../../test/support/databases.ts'
import { startMaster, type MasterHarness } from '../../../test/support/master-harness.ts'

// JSON-RPC against a real master: its control, schedulers, distributor and a local worker.
let h: MasterHarness
const gate = join(tmpdir(), `bbn-rpc-gate-${process.pid}-${Math.random().toString(36).slice(2)}`)
const events: string[] = []

const things = definePlugin<Record<string, never>>({
  name: 'things',
  setup(api) {
    api.addRpcAction({ path: 'things', method: 'reload', authzAction: 'reload', handler: async ({ params }) => ({ reloaded: true, owner: params.owner }) })
  },
})

test.before(async () => {
  const db = testDatabases()[0]!
  h = await startMaster(db, {
    workers: [localWorker({ name: 'w1' })],
    builders: [
      builder({ name: 'b1', workers: ['w1'], steps: [steps.shell({ command: ['true'] })] }),
      // Runs until the test's gate file exists, so there is a running build to stop.
      builder({ name: 'b2', workers: ['w1'], collapseRequests: false, steps: [steps.shell({ command: ['sh', '-c', `while [ ! -e ${gate} ]; do sleep 0.05; done`] })] }),
    ],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['b1', 'b2'], params: { count: schedulers.params.int({ label: 'Count' }) } })],
    plugins: [things({})],
  })
  h.master.bus.subscribe('*/*/*', (k) => events.push(k.join('/')))
})
test.after(async () => { rmSync(gate, { force: true }); await h.stop() })

async function rpc(path: string, method: string, params: Record<string, unknown> = {}, id: unknown = 1) {
  const res = await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method, params, id }) })
  return { status: res.status, body: await res.json() as { id?: unknown; jsonrpc?: string; result?: unknown; error?: { code: number; message: unknown } }, type: res.headers.get('content-type') }
}
const raw = async (payload: string, contentType = 'application/json', path = 'builds/1') => {
  const res = await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/${path}`, { method: 'POST', headers: { 'content-type': contentType }, body: payload })
  return { status: res.status, body: await res.json() as { id?: unknown; error?: { code: number; message: unknown } } }
}
const result = <T>(r: { body: { result?: unknown } }) => r.body.result as T

test('force returns [bsid, {builderid: brid}] and adds a buildset owned by the caller', async () => {
  const b1 = h.builderId('b1')
  const r = await rpc('forceschedulers/force', 'force', { builderid: String(b1), reason: 'try', count: '3' }, 7)
  assert.is(r.status, 200)
  assert.match(String(r.type), /^application\/json/)
  assert.is(r.body.id, 7)
  assert.is(r.body.jsonrpc, '2.0')
  const [bsid, brids] = result<[number, Record<string, number>]>(r)
  assert.ok(Number.isInteger(bsid))
  assert.equal(Object.keys(brids), [String(b1)])
  const bs = await h.master.data.buildsets.getBuildset(bsid)
  assert.equal(bs!.properties.owner?.[0], 'anonymous')
  assert.equal(bs!.properties.count, [3, 'Force Build Form'])
  assert.is(await h.waitBuildset(bsid), SUCCESS)
})

test('force validation errors are 400 -32602 with an object message; unknown scheduler 404', async () => {
  const r = await rpc('forceschedulers/force', 'force', { builderid: String(h.builderId('b1')), count: 'many' })
  assert.is(r.status, 400)
  assert.equal(r.body.error, { code: -32602, message: { count: `'count' must be an integer, got "many"` } })
  const nope = await rpc('forceschedulers/nope', 'force', {})
  assert.is(nope.status, 404)
  const bad = await rpc('forceschedulers/force', 'force', { builderid: '9999' })
  assert.is(bad.status, 400)
  assert.is(bad.body.error!.code, -32602)
  assert.match(String(bad.body.error!.message), 'builderNames not specified or not supported')
})

test('stop a running build (by id and by builder name and number), rebuild a finished one', async () => {
  const b2 = h.builderId('b2')
  const started = h.waitFor<{ buildid: number; number: number; builderid: number }>('builds/*/new', (b) => b.builderid === b2)
  const [bsid] = result<[number]>(await rpc('forceschedulers/force', 'force', { builderid: b2, reason: 'long' }))
  const build = await started
  const stop = await rpc(`builders/b2/builds/${build.number}`, 'stop', { reason: 'enough' })
  assert.equal(stop.body, { id: 1, jsonrpc: '2.0', result: null })
  assert.is(await h.waitBuildset(bsid), CANCELLED)
  assert.is((await h.master.data.builds.getBuild(build.buildid))!.results, CANCELLED)
  assert.equal((await rpc('builds/999', 'stop')).body.result, null)

  const [bs1] = result<[number]>(await rpc('forceschedulers/force', 'force', { builderid: h.builderId('b1') }))
  await h.waitBuildset(bs1)
  const done = (await h.master.data.db.k.selectFrom('builds').select('buildid').where('builderid', '=', h.builderId('b1')).orderBy('buildid', 'desc').executeTakeFirstOrThrow()).buildid
  const re = await rpc(`builds/${done}`, 'rebuild')
  assert.is(re.status, 200)
  const [rebsid] = result<[number]>(re)
  const bs = await h.master.data.buildsets.getBuildset(rebsid)
  assert.is(bs!.rebuilt_buildid, done)
  assert.is(await h.waitBuildset(rebsid), SUCCESS)
  assert.is((await rpc('builds/999', 'rebuild')).status, 404)
})

test('cancel and set_priority on a queued request', async () => {
  const b2 = h.builderId('b2')
  // One build of b2 holds the worker's slot for b2 (one per worker), so the next one stays queued.
  const started = h.waitFor('builds/*/new', (b: { builderid: number }) => b.builderid === b2)
  const [blocker] = result<[number]>(await rpc('forceschedulers/force', 'force', { builderid: b2, reason: 'blocker' }))
  await started
  const [bsid, brids] = result<[number, Record<string, number>]>(await rpc('forceschedulers/force', 'force', { builderid: b2, reason: 'x' }))
  const brid = brids[String(b2)]!
  assert.equal((await rpc(`buildrequests/${brid}`, 'set_priority', { priority: 5 })).body.result, null)
  assert.is((await h.master.data.buildrequests.load([brid]))[0]!.priority, 5)
  assert.is((await rpc(`buildrequests/${brid}`, 'set_priority', { priority: 'high' })).status, 400)
  assert.equal((await rpc(`buildrequests/${brid}`, 'cancel', { reason: 'no' })).body.result, null)
  assert.is(await h.waitBuildset(bsid), CANCELLED)
  assert.is((await h.master.data.buildrequests.load([brid]))[0]!.results, CANCELLED)
  const unknown = await rpc(`buildrequests/${brid}`, 'bogus')
  assert.is(unknown.status, 501)
  assert.equal(unknown.body.error, { code: -32601, message: 'action: bogus is not supported' })
  writeFileSync(gate, '')
  assert.is(await h.waitBuildset(blocker), SUCCESS)
  rmSync(gate)
})

test('enable on schedulers publishes schedulers/N/updated', async () => {
  const schedulerid = h.master.schedulers.get('force')!.schedulerid
  events.length = 0
  assert.equal((await rpc(`schedulers/${schedulerid}`, 'enable', { enabled: false })).body.result, null)
  assert.ok(events.includes(`schedulers/${schedulerid}/updated`))
  assert.is(await h.master.data.schedulers.isEnabled(schedulerid), false)
  assert.is((await rpc(`schedulers/${schedulerid}`, 'enable', { enabled: 'no' })).status, 400)
  await rpc(`schedulers/${schedulerid}`, 'enable', { enabled: true })
})

test('worker actions by id and name; unknown worker is 404', async () => {
  const workerid = h.master.workers.get('w1')!.workerid
  assert.equal((await rpc(`workers/${workerid}`, 'pause', { reason: 'maint' })).body.result, null)
  assert.ok((await h.master.data.workers.entity(workerid))!.paused)
  assert.equal((await rpc('workers/w1', 'unpause')).body.result, null)
  assert.not.ok((await h.master.data.workers.entity(workerid))!.paused)
  assert.is((await rpc('workers/nobody', 'pause')).status, 404)
  assert.is((await rpc('workers/w1', 'fly')).status, 501)
})

test('plugin actions get the owner; unknown paths 404; known paths without the action 501', async () => {
  assert.equal((await rpc('things', 'reload')).body.result, { reloaded: true, owner: 'anonymous' })
  const nopath = await rpc('nothing/here', 'stop')
  assert.is(nopath.status, 404)
  assert.is(nopath.body.error!.code, -32600)
  assert.is((await rpc('masters', 'stop')).status, 501)
})

test("decode errors: Buildbot's codes, nothing changes", async () => {
  const count = async () => (await h.master.data.db.k.selectFrom('buildsets').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst())!.n
  const before = await count()
  const ct = await raw('{}', 'text/plain')
  assert.is(ct.status, 400)
  assert.equal(ct.body, { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid content-type (use application/json)' } })
  const parse = await raw('{nope')
  assert.is(parse.status, 400)
  assert.is(parse.body.error!.code, -32700)
  assert.ok(!('id' in parse.body))
  const batch = await raw('[]')
  assert.equal(batch.body.error, { code: -32600, message: 'JSONRPC batch requests are not supported' })
  const missing = await raw(JSON.stringify({ jsonrpc: '2.0', method: 'stop', id: 3 }))
  assert.equal(missing.body, { jsonrpc: '2.0', id: 3, error: { code: -32600, message: "missing key 'params'" } })
  const version = await raw(JSON.stringify({ jsonrpc: '1.0', method: 'stop', params: {}, id: 3 }))
  assert.is(version.body.error!.code, -32600)
  const big = await raw(JSON.stringify({ jsonrpc: '2.0', method: 'force', params: { reason: 'x'.repeat(2 * 1024 * 1024) }, id: 1 }), 'application/json', 'forceschedulers/force')
  assert.is(big.status, 413)
  assert.is(big.body.error!.code, -32600)
  assert.is(await count(), before)
})

test.run()
