import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { localWorker, builder, steps, schedulers, SUCCESS } from '../../core/index.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb } from '../support/master-harness.ts'
import pgLib from 'pg'

// Two masters in one process on one sqlite file would block each other's event loop on the
// file lock, so the shared-database case runs on PostgreSQL (two masters, one database).
const pg = testDatabases().filter((d) => d.name === 'postgres')
if (!pg.length) test.skip('two masters sharing a database (needs TEST_PG_URL)', () => {})

eachDb(test, 'two masters sharing a database run every request exactly once', async (start) => {
  const cfg = (name: string) => ({
    masterName: name, collapseRequests: false,
    workers: [localWorker({ name: 'local', maxBuilds: 2 })],
    builders: [builder({ name: 'b', workers: ['local'], steps: [steps.shell({ command: ['sh', '-c', 'sleep 0.05'] })] })],
  })
  const a = await start(cfg('master-a'))
  const added = []
  for (let i = 0; i < 40; i++) added.push(await a.addBuildset(['b'], { reason: `r${i}` }))
  // The second master starts while the first is working through the queue: it loads the same
  // unclaimed requests and competes for them.
  const b = await start(cfg('master-b'), { dbUrl: a.dbUrl })
  // Each master publishes on its own bus only, so completion is read from the database.
  const k = a.master.data.db.k
  await a.until(async () => (await k.selectFrom('buildsets').select('bsid').where('complete', '=', 0).execute()).length === 0, 'every buildset to complete', 60_000)
  const builds = await k.selectFrom('builds').select(['buildrequestid', 'masterid', 'results']).execute()
  const perRequest = new Map<number, number>()
  for (const x of builds) perRequest.set(x.buildrequestid, (perRequest.get(x.buildrequestid) ?? 0) + 1)
  assert.is(perRequest.size, 40)
  assert.ok([...perRequest.values()].every((n) => n === 1), 'a request ran twice')
  assert.ok(builds.every((x) => x.results === SUCCESS))
  const masters = new Set(builds.map((x) => x.masterid))
  assert.ok(masters.has(a.master.data.masterid))
  void b
}, pg)

eachDb(test, "the master survives its idle PostgreSQL connections being terminated", async (start) => {
  const h = await start({
    workers: [localWorker({ name: 'local' })],
    builders: [builder({ name: 'b', workers: ['local'], steps: [steps.shell({ command: ['true'] })] })],
  })
  assert.is(await h.waitBuildset((await h.addBuildset(['b'])).bsid), SUCCESS)
  const dbName = new URL(h.dbUrl).pathname.slice(1)
  const admin = new pgLib.Client({ connectionString: process.env.TEST_PG_URL })
  await admin.connect()
  try {
    const { rowCount } = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName])
    assert.ok((rowCount ?? 0) > 0, 'the master had connections to terminate')
  } finally { await admin.end() }
  // Give the terminations time to reach the idle clients (that is where an unhandled error would crash).
  await new Promise((r) => setTimeout(r, 300))
  assert.is(await h.waitBuildset((await h.addBuildset(['b'])).bsid), SUCCESS)
}, pg)

eachDb(test, 'a Trigger waiting on children that another master runs still completes', async (start) => {
  const cfg = (name: string) => ({
    masterName: name,
    workers: [localWorker({ name: 'local', maxBuilds: 2 })],
    builders: [
      builder({ name: 'parent', workers: ['local'], steps: [steps.trigger({ waitForFinish: true, schedulersAndProperties: () => Array.from({ length: 20 }, (_, i) => ({ scheduler: 'kids', properties: { i } })) })] }),
      builder({ name: 'child', workers: ['local'], collapseRequests: false, steps: [steps.shell({ command: ['sh', '-c', 'sleep 0.1'] })] }),
    ],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['parent'] }), schedulers.triggerable({ name: 'kids', builderNames: ['child'] })],
  })
  const a = await start(cfg('master-a'))
  const { bsid } = await a.force('force')
  const b = await start(cfg('master-b'), { dbUrl: a.dbUrl })
  // Give master b the children it can see: it loads them when it starts, and on every new one.
  await b.master.brd.loadPending()
  assert.is(await a.waitBuildset(bsid, 60_000), SUCCESS)
  const perMaster = await a.master.data.db.k.selectFrom('builds').select('masterid').where('builderid', '=', a.builderId('child')).execute()
  assert.is(perMaster.length, 20)
  assert.ok(perMaster.some((r) => r.masterid === b.master.data.masterid), 'master b ran some of the children')
}, pg)

test.run()
