import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHarness, seed, type Harness } from '../test-harness.ts'
import { SUCCESS } from '../../util/results.ts'

let h: Harness
let ids: Awaited<ReturnType<typeof seed>>

test.before(async () => {
  h = await createHarness({ surface: { restEndpoints: () => [{
    path: 'builds/n:buildid/nixjobs', plural: 'nixjobs', kind: 'collection', owner: 'nix',
    get: async ({ path }) => [{ attr: 'a', buildid: path.buildid, n: 2 }, { attr: 'b', buildid: path.buildid, n: 1 }],
  }] } })
  ids = await seed(h)
  // 30 more finished builds on b1 for pagination.
  for (let i = 0; i < 30; i++) {
    const b = await h.data.builds.addBuild({ builderid: ids.b1, buildrequestid: ids.build1.buildrequestid, workerid: ids.workerid, state_string: `s${i}` })
    await h.data.builds.finishBuild(b.buildid, i % 2 ? SUCCESS : 2)
  }
})
test.after(async () => { await h.close() })

const get = async (url: string, headers: Record<string, string> = {}) => {
  const res = await h.server.app.inject({ method: 'GET', url, headers: { accept: 'application/json', ...headers } })
  return { status: res.statusCode, body: JSON.parse(res.body || 'null'), headers: res.headers, raw: res.body }
}

test('query parameter errors are 400 with Buildbot messages and text/plain', async () => {
  const cases: [string, string][] = [
    ['/api/v2/builds?foo=1', "unrecognized query parameter 'foo'"],
    ['/api/v2/builds?field=nope', "no such field 'nope'"],
    ['/api/v2/builds?order=-nope', "no such field 'nope'"],
    ['/api/v2/builds?limit=x', 'invalid limit'],
    ['/api/v2/builds?offset=-1', 'invalid offset'],
    ['/api/v2/builds?buildid=abc', 'invalid filter value for buildid'],
    ['/api/v2/builds?complete=maybe', 'invalid filter value for complete'],
    ['/api/v2/builds?field=buildid&results=0', 'cannot filter on un-selected fields'],
    ['/api/v2/builds?field=buildid&order=results', 'cannot order on un-selected fields'],
    ['/api/v2/builds/1?buildid=1', 'this is not a collection'],
    ['/api/v2/builds?buildid__bogus=1', "unrecognized query parameter 'buildid__bogus'"],
    ['/api/v2/builds?nosuch__eq=1', "unrecognized query parameter 'nosuch__eq'"],
  ]
  for (const [url, msg] of cases) {
    const r = await get(url)
    assert.is(r.status, 400, url)
    assert.equal(r.body, { error: msg }, url)
    assert.is(r.headers['content-type'], 'text/plain; charset=utf-8')
  }
})

test('filters with operators push down and combine', async () => {
  const ids2 = (r: { body: { builds: { buildid: number }[] } }) => r.body.builds.map((b) => b.buildid)
  assert.equal(ids2(await get('/api/v2/builds?buildid__lt=3')), [1, 2])
  assert.equal(ids2(await get('/api/v2/builds?buildid__ge=31')), [31, 32])
  assert.equal(ids2(await get('/api/v2/builds?buildid=1&buildid=2')), [1, 2])
  assert.equal(ids2(await get('/api/v2/builds?buildid__in=5&buildid__in=6')), [5, 6])
  assert.is((await get('/api/v2/builds?buildid__ne=1')).body.meta.total, 31)
  assert.is((await get('/api/v2/builds?buildid__notin=1&buildid__notin=2')).body.meta.total, 30)
  assert.is((await get('/api/v2/builds?complete=false')).body.builds.length, 1)
  assert.is((await get('/api/v2/builds?complete=yes&results=0')).body.meta.total, 16)
  assert.equal(ids2(await get('/api/v2/builds?state_string__contains=s2')), [5, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32])
  assert.is((await get('/api/v2/builders?tags__contains=nix')).body.builders.length, 1)
  assert.is((await get('/api/v2/builders?name__contains=b')).body.builders.length, 2)
})

test('order, limit, offset; meta.total counts before pagination', async () => {
  const r = await get('/api/v2/builds?order=-buildid&limit=5&offset=2')
  assert.equal(r.body.builds.map((b: { buildid: number }) => b.buildid), [30, 29, 28, 27, 26])
  assert.is(r.body.meta.total, 32)
  const byState = await get('/api/v2/builds?order=results&order=-buildid&limit=2')
  assert.equal(byState.body.builds.map((b: { results: number | null }) => b.results), [null, 0])
  const mem = await get('/api/v2/builds?order=complete&limit=1')
  assert.is(mem.body.builds[0].complete, false)
  assert.is(mem.body.meta.total, 32)
})

test('field selection and property=', async () => {
  const r = await get('/api/v2/builds?field=buildid&field=number&limit=1')
  assert.equal(r.body.builds, [{ buildid: 1, number: 1 }])
  const p = await get('/api/v2/builds/1?property=owner')
  assert.equal(p.body.builds[0].properties, { owner: ['alice', 'Force Build Form'] })
  const none = await get('/api/v2/builds/1')
  assert.equal(none.body.builds[0].properties, {})
  const br = await get('/api/v2/buildrequests?property=*&limit=1')
  assert.equal(br.body.buildrequests[0].properties, { owner: ['alice', 'Force Build Form'], scheduler: ['push', 'Scheduler'] })
})

test('changes come newest first unless ordered', async () => {
  await h.data.changes.addChange({ author: 'bob', branch: 'main', repository: 'r' })
  assert.equal((await get('/api/v2/changes')).body.changes.map((c: { changeid: number }) => c.changeid), [2, 1])
  assert.equal((await get('/api/v2/changes?order=changeid')).body.changes.map((c: { changeid: number }) => c.changeid), [1, 2])
})

test('Accept decides compact JSON or pretty text; HEAD has headers only', async () => {
  const pretty = await h.server.app.inject('/api/v2/masters')
  assert.is(pretty.headers['content-type'], 'text/plain; charset=utf-8')
  assert.ok(pretty.body.includes('\n  "masters": ['))
  const head = await h.server.app.inject({ method: 'HEAD', url: '/api/v2/masters' })
  assert.is(head.statusCode, 200)
  assert.is(head.body, '')
  assert.is(head.headers['content-length'], String(Buffer.byteLength(pretty.body)))
})

test('paths: trailing slash, unknown path, by-name builder, bad method', async () => {
  assert.equal((await get('/api/v2/builds/')).body, { error: 'Invalid path: builds/' })
  assert.is((await get('/api/v2/nothing/here')).status, 404)
  assert.is((await get('/api/v2/builders/b1/builds/1')).body.builds[0].buildid, 1)
  assert.equal((await get('/api/v2/builders/999/builds')).body, { builds: [], meta: { total: 0 } })
  assert.is((await get('/api/latest/builds/1')).status, 200)
  const put = await h.server.app.inject({ method: 'PUT', url: '/api/v2/builds' })
  assert.is(put.statusCode, 400)
  assert.equal(JSON.parse(put.body), { error: 'invalid HTTP method' })
})

test('CORS: foreign origins are refused, the buildbotURL origin is allowed', async () => {
  const bad = await get('/api/v2/masters', { origin: 'http://evil.example' })
  assert.is(bad.status, 400)
  assert.equal(bad.body, { error: 'invalid origin' })
  const ok = await get('/api/v2/masters', { origin: 'http://127.0.0.1:8010' })
  assert.is(ok.status, 200)
  assert.is(ok.headers['access-control-allow-origin'], 'http://127.0.0.1:8010')
  assert.is(ok.headers['access-control-max-age'], '3600')
  // A host name the master does not know is refused before CORS (DNS rebinding); once allowed,
  // a page served from that name is same-origin.
  assert.is((await h.server.app.inject({ url: '/api/v2/masters', headers: { origin: 'http://ci.example:8443', host: 'ci.example:8443' } })).statusCode, 421)
  const www = h.surface.www
  h.surface.www = { ...www, allowedHosts: ['ci.example'] }
  const sameHost = await get('/api/v2/masters', { origin: 'http://ci.example:8443', host: 'ci.example:8443' })
  h.surface.www = www
  assert.is(sameHost.status, 200)
  const pre = await h.server.app.inject({ method: 'OPTIONS', url: '/api/v2/builds', headers: { origin: 'http://127.0.0.1:8010', 'access-control-request-method': 'POST' } })
  assert.is(pre.statusCode, 200)
  assert.is(pre.body, '')
  const preBad = await h.server.app.inject({ method: 'OPTIONS', url: '/api/v2/builds', headers: { origin: 'http://127.0.0.1:8010', 'access-control-request-method': 'DELETE' } })
  assert.is(preBad.statusCode, 400)
})

test('plugin endpoints match after the built-ins and get the result spec', async () => {
  const r = await get('/api/v2/builds/1/nixjobs?order=n&field=attr&field=n')
  assert.equal(r.body, { nixjobs: [{ attr: 'b', n: 1 }, { attr: 'a', n: 2 }], meta: { total: 2 } })
  assert.equal((await get('/api/v2/builds/1/nixjobs?attr=a')).body.nixjobs.length, 1)
})

test('/api lists the v2 root', async () => {
  assert.equal((await get('/api')).body, { api_versions: { v2: 'http://127.0.0.1:8010/api/v2' } })
})

test.run()
