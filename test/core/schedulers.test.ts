import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { localWorker, builder, steps, schedulers } from '../../core/index.ts'
import { ForceValidationError } from '../../core/http/master-surface.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'
import type { MasterConfig } from '../../core/config/define-master.ts'

const dbs = testDatabases()
const local = [localWorker({ name: 'local' })]
const trivial = (name: string, extra: Partial<Parameters<typeof builder>[0]> = {}) =>
  builder({ name, workers: ['local'], steps: [steps.shell({ command: ['true'] })], ...extra })

async function buildsets(h: MasterHarness) {
  const rows = await h.master.data.db.k.selectFrom('buildsets').select(['bsid', 'scheduler', 'properties']).orderBy('bsid').execute()
  const out = []
  for (const r of rows) out.push({ ...r, ss: (await h.master.data.buildsets.getBuildset(r.bsid))!.sourcestamps })
  return out
}
const change = (h: MasterHarness, branch: string | null, revision: string, extra: Record<string, unknown> = {}) =>
  h.master.data.changes.addChange({ author: 'a <a@x>', branch, revision, repository: 'https://example.org/r.git', ...extra })

eachDb(test, 'singleBranch without a timer: one buildset per change, at that change', async (start) => {
  const h = await start({ workers: local, builders: [trivial('b')], schedulers: [schedulers.singleBranch({ name: 'sb', builderNames: ['b'], changeFilter: { branch: 'main' } })] })
  const first = h.waitFor<{ bsid: number }>('buildsets/*/new')
  await change(h, 'main', 'r1')
  await h.waitBuildset((await first).bsid)
  const second = h.waitFor<{ bsid: number }>('buildsets/*/new')
  await change(h, 'main', 'r2')
  await h.waitBuildset((await second).bsid)
  const bs = await buildsets(h)
  assert.equal(bs.map((b) => b.ss[0]!.revision), ['r1', 'r2'])
  assert.equal(bs.map((b) => b.scheduler), ['sb', 'sb'])
}, dbs)

eachDb(test, 'singleBranch with treeStableTimer: changes collected into one buildset at the newest', async (start) => {
  const h = await start({ workers: local, builders: [trivial('b')], schedulers: [schedulers.singleBranch({ name: 'sb', builderNames: ['b'], treeStableTimer: 2 })] })
  const made = h.waitFor<{ bsid: number }>('buildsets/*/new')
  for (const r of ['r1', 'r2', 'r3']) await change(h, 'main', r)
  await h.waitBuildset((await made).bsid)
  // The classified changes are flushed when the timer fires, so nothing more can come of them.
  await h.until(async () => (await h.master.data.schedulers.getClassifiedChanges(h.master.schedulers.get('sb')!.schedulerid)).length === 0, 'flushed changes')
  const bs = await buildsets(h)
  assert.is(bs.length, 1)
  assert.is(bs[0]!.ss[0]!.revision, 'r3')
}, dbs)

eachDb(test, 'anyBranch with a timer: one stream (and one buildset) per branch', async (start) => {
  const h = await start({ workers: local, builders: [trivial('b')], schedulers: [schedulers.anyBranch({ name: 'ab', builderNames: ['b'], treeStableTimer: 2 })], collapseRequests: false })
  const seen: number[] = []
  const two = new Promise<void>((resolve) => { const s = h.master.bus.subscribe('buildsets/*/new', (_k, m) => { seen.push((m as { bsid: number }).bsid); if (seen.length === 2) { s.unsubscribe(); resolve() } }) })
  await change(h, 'main', 'm1'); await change(h, 'dev', 'd1'); await change(h, 'main', 'm2'); await change(h, 'dev', 'd2')
  await two
  for (const b of seen) await h.waitBuildset(b)
  const bs = await buildsets(h)
  assert.equal(bs.map((b) => `${b.ss[0]!.branch}@${b.ss[0]!.revision}`).sort(), ['dev@d2', 'main@m2'])
}, dbs)

eachDb(test, 'change filters: branch, glob, repository and fn must all match', async (start) => {
  const h = await start({
    workers: local, builders: [trivial('b')], collapseRequests: false,
    schedulers: [schedulers.singleBranch({ name: 'f', builderNames: ['b'], changeFilter: { branchGlob: 'release/*', repository: /example\.org/, fn: (c) => !c.comments.includes('[skip ci]') } })],
  })
  await change(h, 'main', 'x1')
  await change(h, 'release/1', 'x2', { comments: 'fix [skip ci]' })
  await change(h, 'release/1', 'x3', { repository: 'https://other.org/r.git' })
  const made = h.waitFor<{ bsid: number }>('buildsets/*/new')
  await change(h, 'release/2', 'x4')
  await h.waitBuildset((await made).bsid)
  const bs = await buildsets(h)
  assert.equal(bs.map((b) => b.ss[0]!.revision), ['x4'])
}, dbs)

eachDb(test, 'force: typed parameters become properties; a bad int is a ForceValidationError naming the field', async (start) => {
  const h = await start({
    workers: local,
    builders: [trivial('b')],
    schedulers: [schedulers.force({
      name: 'force', builderNames: ['b'],
      params: { jobs: schedulers.params.int({ default: 2 }), flavour: schedulers.params.choice({ choices: ['a', 'b'], default: 'a' }), dry: schedulers.params.bool({}) },
    })],
  })
  try {
    await h.force('force', { jobs: 'many', flavour: 'c' })
    assert.unreachable('should refuse')
  } catch (e) {
    assert.instance(e, ForceValidationError)
    assert.equal(Object.keys((e as ForceValidationError).fields).sort(), ['flavour', 'jobs'])
    assert.match((e as ForceValidationError).fields.jobs!, /'jobs' must be an integer, got "many"/)
  }
  assert.is((await buildsets(h)).length, 0)
  const { bsid } = await h.force('force', { jobs: '8', dry: 'true', reason: 'why not', branch: 'main' })
  await h.waitBuildset(bsid)
  const bs = (await buildsets(h))[0]!
  const props = JSON.parse(bs.properties)
  assert.equal(props.jobs, [8, 'Force Build Form'])
  assert.equal(props.flavour, ['a', 'Force Build Form'])
  assert.equal(props.dry, [true, 'Force Build Form'])
  assert.equal(props.reason, ['why not', 'Force Build Form'])
  assert.is(bs.ss[0]!.branch, 'main')
  const build = await h.master.data.db.k.selectFrom('builds').select('properties').executeTakeFirstOrThrow()
  assert.equal(JSON.parse(build.properties).jobs, [8, 'Force Build Form'])
}, dbs)

eachDb(test, 'triggerable: a Trigger step starts its builders with the set properties', async (start) => {
  const h = await start({
    workers: local,
    builders: [
      builder({ name: 'parent', workers: ['local'], steps: [steps.trigger({ schedulerNames: ['t'], waitForFinish: true, set_properties: { colour: 'blue' } })] }),
      builder({ name: 'child', workers: ['local'], steps: [steps.shell({ command: ['true'] })] }),
    ],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['parent'] }), schedulers.triggerable({ name: 't', builderNames: ['child'] })],
  })
  const { bsid } = await h.force('force')
  assert.is(await h.waitBuildset(bsid), 0)
  const bs = await buildsets(h)
  assert.is(bs.length, 2)
  assert.equal(JSON.parse(bs[1]!.properties).colour, ['blue', 'Trigger'])
}, dbs)

eachDb(test, 'periodic and nightly (every-second cron) schedulers add buildsets', async (start) => {
  const h = await start({
    workers: local, builders: [trivial('p'), trivial('n')],
    schedulers: [schedulers.periodic({ name: 'per', builderNames: ['p'], periodicBuildTimer: 1 }), schedulers.nightly({ name: 'night', builderNames: ['n'], cron: '* * * * * *' })],
  })
  const per = await h.waitFor<{ bsid: number; scheduler: string }>('buildsets/*/new', (m) => m.scheduler === 'per')
  const night = await h.waitFor<{ bsid: number; scheduler: string }>('buildsets/*/new', (m) => m.scheduler === 'night')
  await h.waitBuildset(per.bsid)
  await h.waitBuildset(night.bsid)
  const objectid = await h.master.data.state.objectId('per', 'PeriodicScheduler')
  assert.ok((await h.master.data.state.getState<number>(objectid, 'last_build', 0)) > 0)
}, dbs)

eachDb(test, 'a periodic scheduler stopped while it adds a buildset adds no more', async (start) => {
  const h = await start({ workers: local, builders: [trivial('p')], schedulers: [schedulers.periodic({ name: 'per', builderNames: ['p'], periodicBuildTimer: 1 })] })
  const first = new Promise<number>((resolve) => {
    const sub = h.master.bus.subscribe('buildsets/*/new', (_k, m) => {
      sub.unsubscribe()
      // Stopped from inside the tick (as a reconfigure can): the tick must not re-arm itself.
      void h.master.schedulers.get('per')!.runtime.stop()
      resolve((m as { bsid: number }).bsid)
    })
  })
  const stoppedAt = await first
  await h.waitBuildset(stoppedAt)
  // Absence can only be shown by waiting: three periods. (An earlier tick may have fired
  // before the subscription; only buildsets after the stop count.)
  await new Promise((r) => setTimeout(r, 3000))
  assert.equal((await buildsets(h)).filter((b) => b.bsid > stoppedAt).map((b) => b.bsid), [])
}, dbs)

eachDb(test, 'priorities: queued requests run highest priority first, then oldest', async (start, db) => {
  const cfg = (gate: string): MasterConfig => ({
    workers: [localWorker({ name: 'local', maxBuilds: 1 })], collapseRequests: false,
    builders: [builder({ name: 'b', workers: ['local'], steps: [steps.shell({ command: ['sh', '-c', `while [ ! -e ${gate} ]; do sleep 0.02; done`] })] })],
  })
  const gate = join(tmpdir(), `bbn-gate-${process.pid}-${db.name}-${Date.now()}`)
  const h = await start(cfg(gate))
  const blocker = await h.addBuildset(['b'], { reason: 'blocker' })
  await h.waitFor('builds/*/new')
  const low = await h.addBuildset(['b'], { priority: 0, reason: 'low' })
  const high = await h.addBuildset(['b'], { priority: 5, reason: 'high' })
  const mid = await h.addBuildset(['b'], { priority: 1, reason: 'mid' })
  const low2 = await h.addBuildset(['b'], { priority: 0, reason: 'low2' })
  writeFileSync(gate, '')
  for (const b of [blocker, low, high, mid, low2]) await h.waitBuildset(b.bsid)
  rmSync(gate, { force: true })
  const order = await h.master.data.db.k.selectFrom('builds').innerJoin('buildrequests', 'buildrequests.buildrequestid', 'builds.buildrequestid')
    .select('buildrequests.buildsetid').orderBy('builds.buildid').execute()
  assert.equal(order.map((r) => r.buildsetid), [blocker.bsid, high.bsid, mid.bsid, low.bsid, low2.bsid])
}, dbs)

test.run()
