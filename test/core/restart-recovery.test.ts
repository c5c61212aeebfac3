import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { RETRY, SUCCESS, localWorker, builder, steps } from '../../core/index.ts'
import { startChildMaster } from '../support/child-master.ts'
import { connectDb } from '../../core/db/connect.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb } from '../support/master-harness.ts'

const root = resolve(import.meta.dirname, '../..')
const QUEUED = 6

for (const renamed of [false, true]) eachDb(test, renamed
  ? 'after kill -9, a master under another name (new host name) takes over once the dead one is 3 minutes silent'
  : 'after kill -9 mid-build, a new master retries the interrupted build and runs every queued request exactly once', async (start, db) => {
  const basedir = mkdtempSync(join(tmpdir(), 'bbn-restart-'))
  const gate = join(basedir, 'gate')
  const pgidFile = join(basedir, 'pgid')
  const dbUrl = await db.url(basedir)
  const masterName = `restart-test:${basedir}`
  const configFile = join(basedir, 'master.config.ts')
  writeFileSync(join(basedir, 'package.json'), '{"type":"module"}')
  // The same config serves the child and, below, the in-process master.
  const cfg = `import { defineMaster, localWorker, builder, steps } from ${JSON.stringify(join(root, 'core/index.ts'))}
export default defineMaster({
  basedir: ${JSON.stringify(basedir)}, db: ${JSON.stringify(dbUrl)}, masterName: ${JSON.stringify(masterName)}, logLevel: 'error',
  www: { port: 0 }, collapseRequests: false,
  workers: [localWorker({ name: 'local', maxBuilds: 1 })],
  builders: [builder({ name: 'long', workers: ['local'], steps: [steps.shell({ command: ['sh', '-c', ${JSON.stringify(`echo $$ > ${pgidFile}; while [ ! -e ${gate} ]; do sleep 0.02; done`)}] })] })],
})
`
  writeFileSync(configFile, cfg)
  const child = startChildMaster(configFile, { builder: 'long', count: QUEUED })
  try {
    const ready = { brids: (await child.ready).brids ?? [] }
    assert.is(ready.brids.length, QUEUED)
    await child.kill()
    // The orphaned command of the killed master is not the new master's business; end it.
    // The command runs in its own process group, led by the shell.
    const pgid = existsSync(pgidFile) ? Number(readFileSync(pgidFile, 'utf8').trim()) : 0
    if (pgid > 1) { try { process.kill(-pgid, 'SIGKILL') } catch { /* gone */ } }

    const k0 = await (async () => {
      const d = await connectDb(dbUrl)
      const running = await d.k.selectFrom('builds').selectAll().where('complete_at', 'is', null).execute()
      const claims = await d.k.selectFrom('buildrequest_claims').selectAll().execute()
      await d.close()
      return { running: running.length, claims: claims.length }
    })()
    assert.equal(k0, { running: 1, claims: 1 }, 'the killed master left one running build and its claim')

    if (renamed) {
      // The killed master last reported long ago.
      const d = await connectDb(dbUrl)
      await d.k.updateTable('masters').set({ last_active: Math.floor(Date.now() / 1000) - 1000 }).execute()
      await d.close()
    }
    writeFileSync(gate, '')
    const h = await start({
      masterName: renamed ? `${masterName}-renamed` : masterName, collapseRequests: false, workers: [localWorker({ name: 'local', maxBuilds: 1 })],
      builders: [builder({ name: 'long', workers: ['local'], steps: [steps.shell({ command: ['sh', '-c', `while [ ! -e ${gate} ]; do sleep 0.02; done`] })] })],
    }, { basedir, dbUrl })
    const k = h.master.data.db.k
    await h.until(async () => (await k.selectFrom('buildrequests').select('buildrequestid').where('complete', '=', 0).execute()).length === 0, 'every request to complete')
    const brs = await k.selectFrom('buildrequests').selectAll().orderBy('buildrequestid').execute()
    assert.equal(brs.map((b) => b.buildrequestid), ready.brids)
    assert.ok(brs.every((b) => b.results === SUCCESS), JSON.stringify(brs))
    const builds = await k.selectFrom('builds').selectAll().orderBy('buildid').execute()
    const per = new Map<number, number[]>()
    for (const b of builds) per.set(b.buildrequestid, [...(per.get(b.buildrequestid) ?? []), b.results!])
    assert.equal(per.get(ready.brids[0]!), [RETRY, SUCCESS], 'the interrupted request: RETRY, then run again')
    for (const brid of ready.brids.slice(1)) assert.equal(per.get(brid), [SUCCESS], `request ${brid} ran exactly once`)
    const interrupted = builds[0]!
    assert.match(interrupted.state_string, /interrupted by a master restart/)
    const openSteps = await k.selectFrom('steps').select('stepid').where('complete_at', 'is', null).execute()
    assert.is(openSteps.length, 0)
    const openLogs = await k.selectFrom('logs').select('logid').where('complete', '=', 0).execute()
    assert.is(openLogs.length, 0)
    const sets = await k.selectFrom('buildsets').select(['complete', 'results']).execute()
    assert.ok(sets.every((s) => s.complete === 1 && s.results === SUCCESS))
    const masters = await k.selectFrom('masters').select(['name', 'active']).orderBy('masterid').execute()
    assert.equal(masters.map((m) => m.active), renamed ? [0, 1] : [1])
    await h.stop()
  } finally {
    await child.kill()
    rmSync(basedir, { recursive: true, force: true })
  }
}, testDatabases())

eachDb(test, 'a request whose build finished before the master died is completed with that result at the next start, not run again', async (start) => {
  const h = await start({
    workers: [localWorker({ name: 'local' })],
    builders: [builder({ name: 'once', workers: ['local'], steps: [steps.shell({ command: ['true'] })] })],
  })
  const { bsid, brids } = await h.addBuildset(['once'])
  assert.is(await h.waitBuildset(bsid), SUCCESS)
  const brid = Object.values(brids)[0]!
  const k = h.master.data.db.k
  // As if the master had died between finishing the build and completing its request.
  await k.updateTable('buildrequests').set({ complete: 0, results: -1, complete_at: null }).where('buildrequestid', '=', brid).execute()
  await k.updateTable('buildsets').set({ complete: 0, results: -1, complete_at: null }).where('bsid', '=', bsid).execute()
  const recovered = await h.master.data.recoverInterrupted()
  assert.is(recovered.requests, 0, 'nothing to run again')
  const req = await k.selectFrom('buildrequests').select(['complete', 'results']).where('buildrequestid', '=', brid).executeTakeFirstOrThrow()
  assert.equal([Number(req.complete), Number(req.results)], [1, SUCCESS])
  assert.is(await h.waitBuildset(bsid), SUCCESS)
  const builds = await k.selectFrom('builds').select('buildid').where('buildrequestid', '=', brid).execute()
  assert.is(builds.length, 1, 'the build ran once')
}, testDatabases())

eachDb(test, 'a clean stop mid-build ends the build RETRY and the next start runs its request again', async (start, db) => {
  const basedir = mkdtempSync(join(tmpdir(), 'bbn-stop-'))
  const gate = join(basedir, 'gate')
  try {
    const dbUrl = await db.url(basedir)
    const cfg = {
      masterName: `stop-test:${basedir}`, collapseRequests: false, workers: [localWorker({ name: 'local', maxBuilds: 1 })],
      builders: [builder({ name: 'long', workers: ['local'], steps: [steps.shell({ command: ['sh', '-c', `while [ ! -e ${gate} ]; do sleep 0.02; done`] })] })],
    }
    const first = await start(cfg, { basedir, dbUrl })
    const running = first.waitFor('steps/*/started')
    const a = await first.addBuildset(['long'])
    const b = await first.addBuildset(['long'])
    await running
    await first.stop()
    const k0 = await connectDb(dbUrl)
    const left = await k0.k.selectFrom('builds').select(['results', 'complete_at']).execute()
    const claims = await k0.k.selectFrom('buildrequest_claims').selectAll().execute()
    await k0.close()
    assert.equal(left.map((r) => r.results), [RETRY])
    assert.is(claims.length, 0, 'no claim is left behind')

    writeFileSync(gate, '')
    const second = await start(cfg, { basedir, dbUrl })
    assert.is(await second.waitBuildset(a.bsid), SUCCESS)
    assert.is(await second.waitBuildset(b.bsid), SUCCESS)
    const builds = await second.master.data.db.k.selectFrom('builds').select(['buildrequestid', 'results']).orderBy('buildid').execute()
    const brA = a.brids[second.builderId('long')]!, brB = b.brids[second.builderId('long')]!
    assert.equal(builds.map((x) => [x.buildrequestid, x.results]), [[brA, RETRY], [brA, SUCCESS], [brB, SUCCESS]])
  } finally { rmSync(basedir, { recursive: true, force: true }) }
}, testDatabases())

test.run()
