import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { localWorker, builder, steps, schedulers, CANCELLED, SKIPPED, SUCCESS } from '../../core/index.ts'
import type { MasterConfig } from '../../core/config/define-master.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'

const dbs = testDatabases()

/** One worker slot and a builder whose first build waits for a gate file, so later requests stay queued. */
function gated(name: string, extra: Partial<MasterConfig> = {}, collapse?: boolean): { cfg: MasterConfig; gate: string; open(): void } {
  const gate = join(tmpdir(), `bbn-gate-${process.pid}-${name}-${Math.random().toString(36).slice(2)}`)
  return {
    gate,
    open: () => writeFileSync(gate, ''),
    cfg: {
      workers: [localWorker({ name: 'local', maxBuilds: 1 })],
      builders: [builder({ name: 'b', workers: ['local'], collapseRequests: collapse, steps: [steps.shell({ command: ['sh', '-c', `while [ ! -e ${gate} ]; do sleep 0.02; done`] })] })],
      schedulers: [schedulers.force({ name: 'force', builderNames: ['b'] })],
      ...extra,
    },
  }
}

const requests = (h: MasterHarness) => h.master.data.db.k.selectFrom('buildrequests').selectAll().orderBy('buildrequestid').execute()
const buildsOf = async (h: MasterHarness, brid: number) => (await h.master.data.db.k.selectFrom('builds').select('buildid').where('buildrequestid', '=', brid).execute()).length

async function queueThree(h: MasterHarness, branches: (string | null)[]) {
  const blocker = await h.addBuildset(['b'], { reason: 'blocker' })
  await h.waitFor('builds/*/new')
  const out = []
  for (const branch of branches) out.push(await h.addBuildset(['b'], { branch, reason: `on ${branch}` }))
  return { blocker, queued: out }
}

eachDb(test, 'collapsing (default on): older compatible pending requests are SKIPPED, the newest runs', async (start) => {
  const g = gated('collapse-on')
  const h = await start(g.cfg)
  try {
    const { blocker, queued } = await queueThree(h, ['main', 'main', 'main'])
    // The two older ones are completed as SKIPPED as soon as the newest arrives.
    await h.waitBuildset(queued[0]!.bsid)
    await h.waitBuildset(queued[1]!.bsid)
    g.open()
    for (const b of [blocker, ...queued]) await h.waitBuildset(b.bsid)
    const rs = await requests(h)
    assert.equal(rs.map((r) => r.results), [SUCCESS, SKIPPED, SKIPPED, SUCCESS])
    assert.is(await buildsOf(h, rs[1]!.buildrequestid), 0)
    assert.is(await buildsOf(h, rs[2]!.buildrequestid), 0)
    assert.is(await buildsOf(h, rs[3]!.buildrequestid), 1)
  } finally { rmSync(g.gate, { force: true }) }
}, dbs)

eachDb(test, 'collapsing off (master-wide and per builder): every request runs', async (start) => {
  for (const [extra, perBuilder] of [[{ collapseRequests: false }, undefined], [{}, false]] as const) {
    const g = gated('collapse-off', extra, perBuilder)
    const h = await start(g.cfg)
    try {
      const { blocker, queued } = await queueThree(h, ['main', 'main', 'main'])
      g.open()
      for (const b of [blocker, ...queued]) await h.waitBuildset(b.bsid)
      const rs = await requests(h)
      assert.equal(rs.map((r) => r.results), [SUCCESS, SUCCESS, SUCCESS, SUCCESS])
      for (const r of rs) assert.is(await buildsOf(h, r.buildrequestid), 1)
    } finally { rmSync(g.gate, { force: true }); await h.stop() }
  }
}, dbs)

eachDb(test, 'collapsing never merges requests on different branches', async (start) => {
  const g = gated('collapse-branches')
  const h = await start(g.cfg)
  try {
    const { blocker, queued } = await queueThree(h, ['main', 'dev', 'main'])
    await h.waitBuildset(queued[0]!.bsid)
    g.open()
    for (const b of [blocker, ...queued]) await h.waitBuildset(b.bsid)
    const rs = await requests(h)
    // main#1 is collapsed into main#2; dev runs.
    assert.equal(rs.map((r) => r.results), [SUCCESS, SKIPPED, SUCCESS, SUCCESS])
    assert.is(await buildsOf(h, rs[2]!.buildrequestid), 1)
  } finally { rmSync(g.gate, { force: true }) }
}, dbs)

eachDb(test, 'collapsing compares only scheduler-set properties; requests with a patch never collapse', async (start) => {
  const g = gated('collapse-props')
  const h = await start(g.cfg)
  try {
    const blocker = await h.addBuildset(['b'], { reason: 'blocker' })
    await h.waitFor('builds/*/new')
    const bid = h.builderId('b')
    const add = async (properties: Record<string, [unknown, string]>, patch = false) => (await h.master.data.buildsets.addBuildsets([{
      reason: 'r', builderids: [bid], properties,
      sourcestamps: [{ branch: 'main', repository: 'r', patch: patch ? { level: 1, subdir: '', author: 'a', comment: 'c', body: 'diff' } : null }],
    }]))[0]!
    const a = await add({ flavour: ['x', 'Scheduler'], owner: ['alice', 'Force Build Form'] })
    const b = await add({ flavour: ['x', 'Scheduler'], owner: ['bob', 'Force Build Form'] }) // collapses a: only owner differs, not scheduler-set
    const c = await add({ flavour: ['y', 'Scheduler'] }) // scheduler-set property differs: b stays
    const p1 = await add({}, true)
    const p2 = await add({}, true) // patches: neither collapses
    await h.waitBuildset(a.bsid)
    g.open()
    const all = [blocker, a, b, c, p1, p2]
    for (const x of all) await h.waitBuildset(x.bsid)
    const rs = new Map((await requests(h)).map((r) => [r.buildsetid, r.results]))
    assert.equal(all.map((x) => rs.get(x.bsid)), [SUCCESS, SKIPPED, SUCCESS, SUCCESS, SUCCESS, SUCCESS])
  } finally { rmSync(g.gate, { force: true }) }
}, dbs)

eachDb(test, 'collapsing under a burst of requests: only the newest of the burst runs', async (start) => {
  const g = gated('collapse-burst')
  const h = await start(g.cfg)
  try {
    const blocker = await h.addBuildset(['b'], { reason: 'blocker' })
    await h.waitFor('builds/*/new')
    // Added concurrently, as a push storm or several schedulers would.
    const burst = await Promise.all(Array.from({ length: 8 }, () => h.addBuildset(['b'], { branch: 'main' })))
    const bid = h.builderId('b')
    const newest = burst.reduce((a, b) => (a.brids[bid]! > b.brids[bid]! ? a : b))
    for (const b of burst) if (b !== newest) await h.waitBuildset(b.bsid)
    g.open()
    for (const b of [blocker, ...burst]) await h.waitBuildset(b.bsid)
    const rs = await requests(h)
    assert.is(rs.filter((r) => r.results === SKIPPED).length, 7)
    const ran = await h.master.data.db.k.selectFrom('builds').select('buildid').execute()
    assert.is(ran.length, 2)
  } finally { rmSync(g.gate, { force: true }) }
}, dbs)

eachDb(test, 'stopping a running build: CANCELLED, and its whole process group is killed', async (start) => {
  const pidFile = join(tmpdir(), `bbn-pid-${process.pid}-${Math.random().toString(36).slice(2)}`)
  const h = await start({
    workers: [localWorker({ name: 'local' })],
    builders: [builder({ name: 'sleepy', workers: ['local'], steps: [
      steps.shell({ name: 'sleep', command: ['sh', '-c', `sleep 300 & echo $! > ${pidFile}; wait`] }),
      steps.shell({ name: 'after', command: ['true'] }),
    ] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['sleepy'] })],
  })
  try {
    const started = h.waitFor<{ buildid: number }>('builds/*/new')
    const { bsid } = await h.force('force')
    const { buildid } = await started
    const pid = Number(await h.until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim(), 'the sleep to start'))
    assert.ok(alive(pid))
    await h.master.control.stopBuild(buildid, 'enough')
    assert.is(await h.waitBuildset(bsid), CANCELLED)
    await h.until(() => !alive(pid), 'the sleep to be killed')
    const build = await h.master.data.builds.getBuild(buildid)
    assert.is(build!.results, CANCELLED)
    assert.match(build!.state_string, /cancelled: enough/)
    const stepRows = await h.master.data.db.k.selectFrom('steps').selectAll().where('buildid', '=', buildid).orderBy('number').execute()
    assert.equal(stepRows.map((s) => [s.name, s.results]), [['sleep', CANCELLED]])
  } finally { rmSync(pidFile, { force: true }) }
}, dbs)

eachDb(test, 'cancelling a pending request: CANCELLED and it never runs', async (start) => {
  const g = gated('cancel', { collapseRequests: false })
  const h = await start(g.cfg)
  try {
    const blocker = await h.addBuildset(['b'], { reason: 'blocker' })
    await h.waitFor('builds/*/new')
    const victim = await h.addBuildset(['b'], { reason: 'victim' })
    const other = await h.addBuildset(['b'], { reason: 'other' })
    const brid = victim.brids[h.builderId('b')]!
    const cancelEvent = h.waitFor(`buildrequests/${brid}/cancel`)
    await h.master.control.cancelBuildRequest(brid, 'not wanted')
    await cancelEvent
    assert.is(await h.waitBuildset(victim.bsid), CANCELLED)
    g.open()
    assert.is(await h.waitBuildset(blocker.bsid), SUCCESS)
    assert.is(await h.waitBuildset(other.bsid), SUCCESS)
    assert.is(await buildsOf(h, brid), 0)
    const row = (await requests(h)).find((r) => r.buildrequestid === brid)!
    assert.is(row.results, CANCELLED)
  } finally { rmSync(g.gate, { force: true }) }
}, dbs)

eachDb(test, 'a stop sent the moment the build is announced still cancels it', async (start) => {
  const h = await start({
    workers: [localWorker({ name: 'local' })],
    builders: [builder({ name: 'sleepy', workers: ['local'], steps: [steps.shell({ name: 'sleep', command: ['sleep', '300'] })] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['sleepy'] })],
  })
  const stopped = new Promise<void>((resolve, reject) => {
    const sub = h.master.bus.subscribe('builds/*/new', (_k, m) => {
      sub.unsubscribe()
      h.master.control.stopBuild((m as { buildid: number }).buildid, 'at once').then(resolve, reject)
    })
  })
  const { bsid } = await h.force('force')
  await stopped
  assert.is(await h.waitBuildset(bsid), CANCELLED)
}, dbs)

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

test.run()
