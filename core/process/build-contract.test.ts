import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { builder, localWorker, schedulers, steps, SUCCESS } from '../index.ts'
import { testDatabases } from '../../test/support/databases.ts'
import { startMaster, type MasterHarness } from '../../test/support/master-harness.ts'

// What Buildbot clients see of a forced build: its state string changes are `update` events
// under every build key, and it carries the `owners` property.
let h: MasterHarness
const events: { key: string; msg: { state_string?: string } }[] = []

test.before(async () => {
  h = await startMaster(testDatabases()[0]!, {
    workers: [localWorker({ name: 'w1' })],
    builders: [builder({ name: 'b1', workers: ['w1'], steps: [steps.shell({ command: ['true'] })] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['b1'] })],
  })
  h.master.bus.subscribe('builds/*/*', (k, m) => events.push({ key: k.join('/'), msg: m as { state_string?: string } }))
  h.master.bus.subscribe('builders/*/builds/*/*', (k, m) => events.push({ key: k.join('/'), msg: m as { state_string?: string } }))
})
test.after(async () => { await h.stop() })

async function force(params: Record<string, unknown>): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/forceschedulers/force`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method: 'force', params, id: 1 }),
  })
  const body = await res.json() as { result: [number, Record<string, number>] }
  return body.result[0]
}

test('the final state string is published as builds/N/update and builders/B/builds/N/update before finished', async () => {
  const bsid = await force({ builderNames: ['b1'], username: 'alice' })
  assert.is(await h.waitBuildset(bsid), SUCCESS)
  const build = (await h.master.data.db.k.selectFrom('builds').selectAll().orderBy('buildid', 'desc').executeTakeFirstOrThrow())
  const byId = events.map((e) => e.key).filter((k) => k.startsWith(`builds/${build.buildid}/`) && !k.includes('/properties/'))
  const byBuilder = events.map((e) => e.key).filter((k) => k.startsWith(`builders/${build.builderid}/builds/${build.number}/`))
  assert.equal(byId.slice(-2), [`builds/${build.buildid}/update`, `builds/${build.buildid}/finished`])
  assert.equal(byBuilder.slice(-2), [`builders/${build.builderid}/builds/${build.number}/update`, `builders/${build.builderid}/builds/${build.number}/finished`])
  const update = events.find((e) => e.key === `builds/${build.buildid}/update`)!
  assert.is(update.msg.state_string, 'build successful')
  assert.is(build.state_string, 'build successful')
})

test('a forced build carries owners, a sorted list with the owner, set by the build', async () => {
  const bsid = await force({ builderNames: ['b1'], username: 'bob' })
  assert.is(await h.waitBuildset(bsid), SUCCESS)
  const build = (await h.master.data.db.k.selectFrom('builds').selectAll().orderBy('buildid', 'desc').executeTakeFirstOrThrow())
  const res = await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/builds/${build.buildid}?property=owners&property=owner`)
  const props = (await res.json() as { builds: { properties: Record<string, [unknown, string]> }[] }).builds[0]!.properties
  assert.equal(props.owners, [['bob'], 'Build'])
  assert.equal(props.owner, ['bob', 'Force Build Form'])
})

test('a build of a change carries owners with the change\'s author', async () => {
  const change = await h.master.data.changes.addChange({ author: 'carol <c@x>', comments: 'fix', branch: 'main', revision: 'abc', repository: 'r', project: 'p', files: [] })
  const [added] = await h.master.data.buildsets.addBuildsets([{ reason: 'push', builderids: [h.builderId('b1')], sourcestamps: [change.sourcestamp.ssid], scheduler: 'push' }])
  assert.is(await h.waitBuildset(added!.bsid), SUCCESS)
  const build = (await h.master.data.db.k.selectFrom('builds').selectAll().orderBy('buildid', 'desc').executeTakeFirstOrThrow())
  assert.equal(JSON.parse(build.properties).owners, [['carol <c@x>'], 'Build'])
})

test.run()
