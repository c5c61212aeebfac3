import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHarness, type Harness } from '../test-harness.ts'

// Force rules limited to one builder must hold whatever way the request names its builders:
// the decision is made on the builders that will get requests, not on the names sent.
let h: Harness

test.before(async () => {
  h = await createHarness({ www: { authz: { rules: [{ action: 'force', builder: 'b2', role: 'admin' }], roleMatchers: [] } } })
})
test.after(async () => { await h.close() })

async function force(params: Record<string, unknown>) {
  const res = await h.server.app.inject({
    method: 'POST', url: '/api/v2/forceschedulers/force', headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ jsonrpc: '2.0', method: 'force', params, id: 1 }),
  })
  return { status: res.statusCode, body: JSON.parse(res.body) as { result?: [number, Record<string, number>]; error?: { code: number; message: unknown } } }
}
const requestsFor = async (name: string) => {
  const id = await h.data.builders.findBuilderId(name)
  return Number((await h.data.db.k.selectFrom('buildrequests').select((eb) => eb.fn.countAll().as('n')).where('builderid', '=', id).executeTakeFirstOrThrow()).n)
}

test('an empty builderNames list means every builder of the scheduler, and is authorised as such', async () => {
  const before = await requestsFor('b2')
  for (const params of [{ builderNames: [] }, {}, { builderNames: null }]) {
    const r = await force(params)
    assert.is(r.status, 403, JSON.stringify(params))
    assert.equal(r.body.error, { code: -32600, message: "you need to have role 'admin'" })
  }
  assert.is(await requestsFor('b2'), before)
})

test('the builders named by builderid or builderNames are the ones authorised', async () => {
  const b1 = await h.data.builders.findBuilderId('b1')
  const b2 = await h.data.builders.findBuilderId('b2')
  const ok = await force({ builderNames: ['b1'] })
  assert.is(ok.status, 200)
  assert.equal(Object.keys(ok.body.result![1]), [String(b1)])
  assert.is((await force({ builderid: String(b1) })).status, 200)
  assert.is((await force({ builderid: b2 })).status, 403)
  assert.is((await force({ builderNames: ['b1', 'b2'] })).status, 403)
  assert.is(await requestsFor('b2'), 0)
})

test('builder lists that are not lists of the scheduler\'s builder names are 400', async () => {
  for (const params of [{ builderNames: [{}, null] }, { builderNames: 'b1' }, { builderNames: ['nope'] }, { builderid: '9999' }, { builderid: {} }, { builderid: 2 ** 31 }]) {
    const r = await force(params)
    assert.is(r.status, 400, JSON.stringify(params))
    assert.is(r.body.error!.code, -32602)
  }
})

test.run()
