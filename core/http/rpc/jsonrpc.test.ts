import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHarness, seed, type Harness } from '../test-harness.ts'

let h: Harness
let ids: Awaited<ReturnType<typeof seed>>
const events: string[] = []

test.before(async () => {
  h = await createHarness({ surface: { rpcActions: () => [{
    path: 'projects', method: 'reload', authzAction: 'reload', owner: 'nix',
    handler: async ({ params }) => ({ reloaded: true, owner: params.owner }),
  }] } })
  ids = await seed(h)
  h.bus.subscribe('*/*/*', (k) => events.push(k.join('/')))
})
test.after(async () => { await h.close() })

async function rpc(path: string, method: string, params: Record<string, unknown> = {}, id: unknown = 1) {
  const res = await h.server.app.inject({ method: 'POST', url: `/api/v2/${path}`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ jsonrpc: '2.0', method, params, id }) })
  return { status: res.statusCode, body: JSON.parse(res.body), type: res.headers['content-type'] }
}
const raw = async (payload: string | Buffer, contentType = 'application/json', url = '/api/v2/builds/1') => {
  const res = await h.server.app.inject({ method: 'POST', url, headers: { 'content-type': contentType }, payload })
  return { status: res.statusCode, body: JSON.parse(res.body) }
}

test('force returns [bsid, {builderid: brid}] and adds a buildset owned by the caller', async () => {
  const r = await rpc('forceschedulers/force', 'force', { builderid: String(ids.b1), reason: 'try' }, 7)
  assert.is(r.status, 200)
  assert.match(String(r.type), /^application\/json/)
  assert.is(r.body.id, 7)
  assert.is(r.body.jsonrpc, '2.0')
  const [bsid, brids] = r.body.result
  assert.ok(Number.isInteger(bsid))
  assert.equal(Object.keys(brids), [String(ids.b1)])
  const bs = await h.data.buildsets.getBuildset(bsid)
  assert.equal(bs!.properties.owner, ['anonymous', 'Force Build Form'])
})

test('force validation errors are 400 -32602 with an object message; unknown scheduler 404', async () => {
  const r = await rpc('forceschedulers/force', 'force', { builderid: String(ids.b1), reason: '' })
  assert.is(r.status, 400)
  assert.equal(r.body.error, { code: -32602, message: { reason: 'must not be empty' } })
  const nope = await rpc('forceschedulers/nope', 'force', {})
  assert.is(nope.status, 404)
  const bad = await rpc('forceschedulers/force', 'force', { builderNames: ['zzz'] })
  assert.is(bad.status, 500)
  assert.is(bad.body.error.code, -32603)
  assert.match(bad.body.error.message, 'builderNames not specified or not supported')
})

test('stop, rebuild on builds (by id and by builder name)', async () => {
  const stop = await rpc(`builders/b2/builds/1`, 'stop', { reason: 'enough' })
  assert.equal(stop.body, { id: 1, jsonrpc: '2.0', result: null })
  assert.is((await h.data.builds.getBuild(ids.build2.buildid))!.results, 6)
  assert.equal((await rpc('builds/999', 'stop')).body.result, null)
  const re = await rpc(`builds/${ids.build1.buildid}`, 'rebuild')
  assert.is(re.status, 200)
  const bs = await h.data.buildsets.getBuildset(re.body.result[0])
  assert.is(bs!.rebuilt_buildid, ids.build1.buildid)
  assert.is((await rpc('builds/999', 'rebuild')).status, 404)
})

test('cancel and set_priority on buildrequests', async () => {
  const [bsid, brids] = (await rpc('forceschedulers/force', 'force', { builderid: ids.b2, reason: 'x' })).body.result
  const brid = brids[String(ids.b2)]
  assert.equal((await rpc(`buildrequests/${brid}`, 'set_priority', { priority: 5 })).body.result, null)
  assert.is((await h.data.buildrequests.load([brid]))[0]!.priority, 5)
  assert.is((await rpc(`buildrequests/${brid}`, 'set_priority', { priority: 'high' })).status, 400)
  assert.equal((await rpc(`buildrequests/${brid}`, 'cancel', { reason: 'no' })).body.result, null)
  const br = (await h.data.buildrequests.load([brid]))[0]!
  assert.is(br.results, 6)
  assert.ok((await h.data.buildsets.getBuildset(bsid))!.complete)
  const unknown = await rpc(`buildrequests/${brid}`, 'bogus')
  assert.is(unknown.status, 501)
  assert.equal(unknown.body.error, { code: -32601, message: 'action: bogus is not supported' })
})

test('enable on schedulers publishes schedulers/N/updated', async () => {
  events.length = 0
  assert.equal((await rpc(`schedulers/${ids.schedulerid}`, 'enable', { enabled: false })).body.result, null)
  assert.ok(events.includes(`schedulers/${ids.schedulerid}/updated`))
  assert.is((await rpc(`schedulers/${ids.schedulerid}`, 'enable', { enabled: 'no' })).status, 400)
})

test('worker actions by id and name; unknown worker is 404', async () => {
  assert.equal((await rpc(`workers/${ids.workerid}`, 'pause', { reason: 'maint' })).body.result, null)
  assert.ok((await h.data.workers.entity(ids.workerid))!.paused)
  assert.equal((await rpc('workers/w1', 'unpause')).body.result, null)
  assert.not.ok((await h.data.workers.entity(ids.workerid))!.paused)
  for (const a of ['stop', 'kill']) assert.is((await rpc('workers/w1', a)).status, 200)
  assert.is((await rpc('workers/nobody', 'pause')).status, 404)
  assert.is((await rpc('workers/w1', 'fly')).status, 501)
})

test('plugin actions get the owner; unknown paths 404; known paths without the action 501', async () => {
  assert.equal((await rpc('projects', 'reload')).body.result, { reloaded: true, owner: 'anonymous' })
  const nopath = await rpc('nothing/here', 'stop')
  assert.is(nopath.status, 404)
  assert.is(nopath.body.error.code, -32600)
  assert.is((await rpc('masters', 'stop')).status, 501)
})

test("decode errors: Buildbot's codes, nothing changes", async () => {
  const before = (await h.db.k.selectFrom('buildsets').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst())!.n
  const ct = await raw('{}', 'text/plain')
  assert.is(ct.status, 400)
  assert.equal(ct.body, { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid content-type (use application/json)' } })
  const parse = await raw('{nope')
  assert.is(parse.status, 400)
  assert.is(parse.body.error.code, -32700)
  assert.ok(!('id' in parse.body))
  const batch = await raw('[]')
  assert.equal(batch.body.error, { code: -32600, message: 'JSONRPC batch requests are not supported' })
  const missing = await raw(JSON.stringify({ jsonrpc: '2.0', method: 'stop', id: 3 }))
  assert.equal(missing.body, { jsonrpc: '2.0', id: 3, error: { code: -32600, message: "missing key 'params'" } })
  const version = await raw(JSON.stringify({ jsonrpc: '1.0', method: 'stop', params: {}, id: 3 }))
  assert.is(version.body.error.code, -32600)
  const big = await raw(JSON.stringify({ jsonrpc: '2.0', method: 'force', params: { reason: 'x'.repeat(2 * 1024 * 1024) }, id: 1 }), 'application/json', '/api/v2/forceschedulers/force')
  assert.is(big.status, 413)
  assert.is(big.body.error.code, -32600)
  const after = (await h.db.k.selectFrom('buildsets').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst())!.n
  assert.is(after, before)
})

test.run()
