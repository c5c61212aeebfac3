import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createHarness, seed, type Harness } from './test-harness.ts'
import { testDatabases } from '../../test/support/databases.ts'

// Numbers and shapes out of range are client errors, answered the same on every database.
for (const tdb of testDatabases()) {
  const t = suite(`edge input (${tdb.name})`)
  let h: Harness
  let ids: Awaited<ReturnType<typeof seed>>
  t.before(async () => {
    h = await createHarness({ dbUrl: (dir) => tdb.url(dir) })
    ids = await seed(h)
  })
  t.after(async () => { await h.close(); await tdb.cleanup() })

  const get = async (url: string) => {
    const res = await h.server.app.inject({ method: 'GET', url, headers: { accept: 'application/json' } })
    return { status: res.statusCode, body: JSON.parse(res.body || 'null') }
  }
  const rpc = async (path: string, method: string, params: unknown) => {
    const res = await h.server.app.inject({
      method: 'POST', url: `/api/v2/${path}`, headers: { 'content-type': 'application/json' },
      payload: typeof params === 'string' ? `{"jsonrpc":"2.0","method":"${method}","id":1,"params":${params}}` : JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    })
    return { status: res.statusCode, body: JSON.parse(res.body) as { result?: unknown; error?: { code: number; message: unknown } } }
  }
  const countBuildsets = async () => Number((await h.data.db.k.selectFrom('buildsets').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)

  t('REST: ids, filters, limits and strings out of range', async () => {
    const cases: [string, number][] = [
      ['/api/v2/builds/2147483648', 404],
      ['/api/v2/builders/2147483648/builds/1', 404],
      ['/api/v2/builds/-2147483649', 404],
      ['/api/v2/builds?buildid=2147483648', 400],
      ['/api/v2/builds?buildid__in=1&buildid__in=99999999999999999999', 400],
      ['/api/v2/buildrequests?priority__gt=2147483648', 400],
      ['/api/v2/builds?started_at__gt=99999999999999999999', 400],
      ['/api/v2/builds?state_string=a%00b', 400],
      ['/api/v2/builders/a%00b', 404],
      ['/api/v2/builds?limit=1000000000000000000000', 200],
      ['/api/v2/builds?offset=1000000000000000000000', 200],
      ['/api/v2/builds?buildid__contains=1', 200],
      [`/api/v2/logs/${ids.log.logid}/contents?offset=1&limit=2147483647`, 200],
      ['/api/v2/builds?started_at__gt=4102444800', 200],
    ]
    for (const [url, status] of cases) assert.is((await get(url)).status, status, url)
    assert.is((await get('/api/v2/builds?limit=1000000000000000000000')).body.builds.length, 2)
    assert.is((await get(`/api/v2/logs/${ids.log.logid}/contents?offset=1&limit=2147483647`)).body.logchunks[0].content, 'obuilt\neoops\n')
  })

  t('JSON-RPC: priorities, builder lists, nesting and NULs are 400; nothing is stored', async () => {
    const before = await countBuildsets()
    const bad: unknown[] = [
      { priority: 1e300 }, { priority: 2 ** 31 }, { priority: '2147483648' }, { priority: 1.5 },
      { builderNames: [{}, null] }, { reason: { a: 1 } }, { reason: [[['x']]] }, { reason: 'a\u0000b' }, { branch: 'x', count: 1, 'k\u0000': 1 },
      `{"reason":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
    ]
    for (const params of bad) {
      const r = await rpc('forceschedulers/force', 'force', params)
      assert.is(r.status, 400, typeof params === 'string' ? 'deep' : JSON.stringify(params))
      assert.is(r.body.error!.code, -32602)
    }
    assert.is(await countBuildsets(), before)
    const ok = await rpc('forceschedulers/force', 'force', { builderNames: ['b1'], priority: -(2 ** 31) })
    assert.is(ok.status, 200)
  })

  t('JSON-RPC: set_priority is for incomplete requests, in range; ids out of range name nothing', async () => {
    const done = ids.bs1.brids[ids.b1]!
    const r = await rpc(`buildrequests/${done}`, 'set_priority', { priority: 3 })
    assert.is(r.status, 409)
    assert.match(String(r.body.error!.message), 'complete')
    assert.is((await h.data.buildrequests.load([done]))[0]!.priority, 0)
    const open = ids.bs2.brids[ids.b2]!
    assert.is((await rpc(`buildrequests/${open}`, 'set_priority', { priority: 2 ** 31 })).status, 400)
    assert.is((await rpc(`buildrequests/${open}`, 'set_priority', { priority: 1e300 })).status, 400)
    assert.is((await rpc(`buildrequests/${open}`, 'set_priority', { priority: 7 })).status, 200)
    assert.is((await h.data.buildrequests.load([open]))[0]!.priority, 7)
    assert.is((await rpc('buildrequests/999999', 'set_priority', { priority: 1 })).status, 404)
    assert.is((await rpc('buildrequests/2147483648', 'set_priority', { priority: 1 })).status, 404)
    assert.is((await rpc('builds/2147483648', 'stop', {})).status, 404)
    assert.is((await rpc('forceschedulers/force', 'force', { builderid: '2147483648' })).status, 400)
    assert.is((await get('/api/v2/builds')).status, 200)
  })

  t('JSON-RPC: worker actions on a worker this master does not have are 404', async () => {
    for (const m of ['stop', 'kill', 'pause', 'unpause']) {
      const r = await rpc('workers/1', m, {})
      assert.is(r.status, 404, m)
      assert.match(String(r.body.error!.message), 'no worker with id 1')
    }
  })

  t.run()
}
