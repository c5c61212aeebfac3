import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { localWorker, builder, steps, schedulers, CANCELLED } from '../../core/index.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb } from '../support/master-harness.ts'

eachDb(test, 'a cancel that arrives after the claim but before the build starts: CANCELLED, and no build runs', async (start) => {
  const h = await start({
    workers: [localWorker({ name: 'local' })],
    builders: [builder({ name: 'b', workers: ['local'], steps: [steps.shell({ name: 'run', command: ['true'] })] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['b'] })],
  })
  let brid = 0
  const cancelled = new Promise<void>((resolve, reject) => {
    // The claim is published while the distributor is still between claiming and starting.
    const sub = h.master.bus.subscribe('buildrequests/*/claimed', (_k, m) => {
      sub.unsubscribe()
      brid = (m as { buildrequestid: number }).buildrequestid
      h.master.control.cancelBuildRequest(brid, 'not wanted').then(resolve, reject)
    })
  })
  const cancelEvent = h.waitFor('buildrequests/*/cancel')
  const { bsid } = await h.force('force')
  await cancelled
  assert.is(await h.waitBuildset(bsid), CANCELLED)
  await cancelEvent
  const k = h.master.data.db.k
  const builds = await k.selectFrom('builds').select('buildid').where('buildrequestid', '=', brid).execute()
  assert.is(builds.length, 0)
  const row = await k.selectFrom('buildrequests').select(['complete', 'results']).where('buildrequestid', '=', brid).executeTakeFirstOrThrow()
  assert.equal([Number(row.complete), row.results], [1, CANCELLED])
}, testDatabases())

test.run()
