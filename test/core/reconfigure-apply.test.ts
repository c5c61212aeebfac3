import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { localWorker, builder, definePlugin, steps, schedulers, SUCCESS, type MasterConfig, type PluginRuntime } from '../../core/index.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb } from '../support/master-harness.ts'

const dbs = testDatabases()
const worker = localWorker({ name: 'local' })
const quick = (name: string) => builder({ name, workers: ['local'], steps: [steps.shell({ command: ['true'] })] })

eachDb(test, "any change of a scheduler's options applies on reconfigure (a change filter function's captured branch, a force label)", async (start) => {
  const config = (branch: string, label: string): MasterConfig => ({
    workers: [worker], builders: [quick('b')],
    schedulers: [
      // The filter is a function: its source text is the same for both branches.
      schedulers.anyBranch({ name: 'push', builderNames: ['b'], changeFilter: { fn: (c) => c.branch === branch } }),
      schedulers.force({ name: 'force', builderNames: ['b'], label }),
    ],
  })
  const h = await start(config('one', 'First'))
  const pushed = async (branch: string) => {
    const set = h.waitFor<{ bsid: number; scheduler: string }>('buildsets/*/new', (m) => m.scheduler === 'push', 30_000)
    await h.master.data.changes.addChange({ author: 'a', branch, revision: `r-${branch}`, repository: 'x' })
    return set
  }
  assert.is(await h.waitBuildset((await pushed('one')).bsid), SUCCESS)
  await h.master.reconfigure(await h.resolve(config('two', 'Second')))
  assert.equal(h.master.control.forceSchedulers().map((f) => f.label), ['Second'])
  // A change on the old branch adds nothing; one on the new branch builds.
  const before = (await h.master.data.db.k.selectFrom('buildsets').select('bsid').execute()).length
  const two = await pushed('two')
  assert.is(await h.waitBuildset(two.bsid), SUCCESS)
  const stale = await h.master.data.changes.addChange({ author: 'a', branch: 'one', revision: 'r-one-again', repository: 'x' })
  const three = await pushed('two')
  assert.is(await h.waitBuildset(three.bsid), SUCCESS)
  const sets = await h.master.data.db.k.selectFrom('buildsets').select('bsid').execute()
  assert.is(sets.length, before + 2, `only the two changes on 'two' were built, not change ${stale.changeid} on 'one'`)
}, dbs)

eachDb(test, 'a plugin that fails to start on reconfigure leaves the previous configuration running in full', async (start) => {
  const log: string[] = []
  let gen = 0
  const steady = definePlugin<Record<string, never>>({
    name: 'steady',
    setup(api) {
      const me = ++gen
      api.addBuilder(quick(`steady-${me}`))
      api.onStart(async (rt: PluginRuntime) => {
        log.push(`start ${me}`)
        await rt.parts.set('extra', { builders: [quick(`extra-${me}`)], schedulers: [schedulers.force({ name: 'extra-force', builderNames: [`extra-${me}`] })] })
      })
      api.onStop(() => { log.push(`stop ${me}`) })
    },
  })
  const broken = definePlugin<Record<string, never>>({ name: 'broken', setup(api) { api.onStart(() => { throw new Error('cannot reach the forge') }) } })
  const v1: MasterConfig = { workers: [worker], builders: [quick('one')], schedulers: [schedulers.force({ name: 'force', builderNames: ['one'] })], plugins: [steady({})] }
  const v2: MasterConfig = { workers: [worker], builders: [quick('two')], schedulers: [schedulers.force({ name: 'force', builderNames: ['two'] })], plugins: [steady({}), broken({})] }
  const h = await start(v1)
  assert.equal(log, ['start 1'])
  const before = h.master.config
  const next = await h.resolve(v2)
  await h.master.reconfigure(next).then(() => assert.unreachable('reconfigured'), (e: Error) => assert.match(e.message, "[plugin broken] failed to start: cannot reach the forge"))
  // The new instance of 'steady' started and was stopped again; the old one never stopped.
  assert.equal(log, ['start 1', 'start 2', 'stop 2'])
  assert.is(h.master.config, before, 'the configuration is the previous one')
  assert.ok(h.master.brd.builder('one') && h.master.brd.builder('steady-1') && h.master.brd.builder('extra-1'))
  assert.ok(!h.master.brd.builder('two') && !h.master.brd.builder('extra-2'), "nothing of the refused configuration runs")
  assert.equal(h.master.schedulers.get('extra-force')!.spec.builderNames, ['extra-1'])
  assert.is(await h.waitBuildset((await h.force('force')).bsid), SUCCESS)
  assert.is(await h.waitBuildset((await h.force('extra-force')).bsid), SUCCESS, "the old instance's runtime group still runs")
  // A good reconfigure afterwards swaps everything.
  await h.master.reconfigure(await h.resolve({ ...v2, plugins: [steady({})] }))
  assert.equal(log.slice(3), ['start 3', 'stop 1'])
  assert.ok(h.master.brd.builder('two') && h.master.brd.builder('extra-3') && !h.master.brd.builder('extra-1'))
}, dbs)

eachDb(test, 'reconfigures run one at a time, whoever asks (several at once, and a plugin)', async (start) => {
  const events: string[] = []
  let gen = 0
  let runtime: PluginRuntime | undefined
  const slow = definePlugin<Record<string, never>>({
    name: 'slow',
    setup(api) {
      const me = ++gen
      api.onStart(async (rt: PluginRuntime) => {
        runtime = rt
        events.push(`begin ${me}`)
        for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r))
        events.push(`end ${me}`)
      })
    },
  })
  const cfg: MasterConfig = { workers: [worker], builders: [quick('b')], schedulers: [schedulers.force({ name: 'force', builderNames: ['b'] })], plugins: [slow({})] }
  const h = await start(cfg)
  const configs = await Promise.all([h.resolve(cfg), h.resolve(cfg), h.resolve(cfg)])
  await Promise.all([...configs.map((c) => h.master.reconfigure(c)), runtime!.reconfigure().catch(() => {})])
  // The plugin's reconfigure loads master.config.ts, which this test does not have: it fails, alone.
  const pairs = events.filter((e) => e.startsWith('begin')).length
  assert.is(pairs, 1 + configs.length)
  for (let i = 0; i < events.length; i += 2) {
    assert.ok(events[i]!.startsWith('begin') && events[i + 1] === events[i]!.replace('begin', 'end'), `no start interleaves with another: ${events.join(', ')}`)
  }
  assert.is(await h.waitBuildset((await h.force('force')).bsid), SUCCESS)
}, dbs)

test.run()
