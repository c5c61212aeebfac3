import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { builder, definePlugin, localWorker, schedulers, steps, SUCCESS, type MasterConfig, type PartsGroup, type PluginRuntime } from '../../core/index.ts'
import { UNCLAIMED_CHANGE_MS } from '../../core/scheduler-host.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'

const dbs = testDatabases()
const repo = 'https://example.org/late.git'
const quick = (name: string) => builder({ name, workers: ['local'], steps: [steps.shell({ command: ['true'] })] })

/** A plugin that adds a project's group when the test says so, as the Nix plugin does once a forge discovered the project. */
const lateProject = definePlugin<{ holder: { rt?: PluginRuntime } }>({
  name: 'late-project',
  setup(api, { holder }) { api.onStart((rt) => { holder.rt = rt }) },
})
const group = (): PartsGroup => ({
  builders: [quick('late-build')],
  schedulers: [schedulers.anyBranch({ name: 'late-push', builderNames: ['late-build'], changeFilter: { repository: repo } })],
})

const buildsetsOf = async (h: MasterHarness, scheduler: string) => {
  const rows = await h.master.data.db.k.selectFrom('buildsets').select('bsid').where('scheduler', '=', scheduler).orderBy('bsid').execute()
  const out: { bsid: number; revision: string | null }[] = []
  for (const r of rows) out.push({ bsid: r.bsid, revision: (await h.master.data.buildsets.getBuildset(r.bsid))!.sourcestamps[0]!.revision })
  return out
}
const unclaimed = async (h: MasterHarness) => (await h.master.data.db.k.selectFrom('unclaimed_changes').select('changeid').execute()).map((r) => r.changeid)

eachDb(test, 'a change that comes before its schedulers is built once they start, once, and not again after a restart', async (start) => {
  const basedir = mkdtempSync(join(tmpdir(), 'bbn-unclaimed-'))
  try {
    const holder: { rt?: PluginRuntime } = {}
    const config: MasterConfig = {
      workers: [localWorker({ name: 'local' })], builders: [quick('other-build')],
      schedulers: [
        // Takes pushes to `other` of the same repository; a nightly notes changes but builds none.
        schedulers.anyBranch({ name: 'other-push', builderNames: ['other-build'], changeFilter: { branch: 'other' } }),
        schedulers.nightly({ name: 'nightly', builderNames: ['other-build'], cron: '0 3 * * *', onlyIfChanged: true }),
      ],
      plugins: [lateProject({ holder })],
    }
    const h = await start(config, { basedir })
    const early = await h.master.data.changes.addChange({ author: 'a', branch: 'main', revision: 'early', repository: repo })
    const taken = h.waitFor<{ bsid: number; scheduler: string }>('buildsets/*/new', (m) => m.scheduler === 'other-push')
    const otherBranch = await h.master.data.changes.addChange({ author: 'a', branch: 'other', revision: 'other', repository: repo })
    assert.is(await h.waitBuildset((await taken).bsid), SUCCESS)
    const stale = await h.master.data.changes.addChange({ author: 'a', branch: 'main', revision: 'stale', repository: repo })
    await h.until(async () => (await unclaimed(h)).includes(stale.changeid), 'the changes nobody wanted are kept')
    assert.equal(await unclaimed(h), [early.changeid, stale.changeid], `change ${otherBranch.changeid}, which a running scheduler took, is not kept`)
    // One arrived longer ago than a scheduler start may take.
    await h.master.data.db.k.updateTable('unclaimed_changes').set({ at_ms: Date.now() - UNCLAIMED_CHANGE_MS - 60_000 }).where('changeid', '=', stale.changeid).execute()

    // The project's schedulers start: the early change is built (before `set` returns), the stale one and the taken one are not.
    await holder.rt!.parts.set('late', group())
    const built = await buildsetsOf(h, 'late-push')
    assert.equal(built.map((b) => b.revision), ['early'])
    assert.is(await h.waitBuildset(built[0]!.bsid), SUCCESS)
    assert.equal(await unclaimed(h), [stale.changeid])

    // A restart starts the same schedulers again: nothing is built twice.
    await h.stop()
    const again = await start(config, { basedir, dbUrl: h.dbUrl })
    await holder.rt!.parts.set('late', group())
    assert.ok(again.master.schedulers.get('late-push'))
    assert.equal((await buildsetsOf(again, 'late-push')).map((b) => b.revision), ['early'])
    assert.equal((await buildsetsOf(again, 'other-push')).map((b) => b.revision), ['other'])
  } finally {
    rmSync(basedir, { recursive: true, force: true })
  }
}, dbs)

eachDb(test, 'a reconfigure that widens a running scheduler\'s filter builds new changes only, not the ones it saw before', async (start) => {
  const config = (branch: string): MasterConfig => ({
    workers: [localWorker({ name: 'local' })], builders: [quick('b')],
    schedulers: [schedulers.anyBranch({ name: 'push', builderNames: ['b'], changeFilter: { fn: (c) => c.branch === branch, fnKey: { branch } } })],
  })
  const h = await start(config('one'))
  const seen = await h.master.data.changes.addChange({ author: 'a', branch: 'two', revision: 'seen', repository: repo })
  await h.until(async () => (await unclaimed(h)).includes(seen.changeid), 'the change nobody wanted is kept')
  await h.master.reconfigure(await h.resolve(config('two')))
  assert.equal(await buildsetsOf(h, 'push'), [], 'the restarted scheduler saw that change when it arrived')
  const fresh = h.waitFor<{ bsid: number; scheduler: string }>('buildsets/*/new', (m) => m.scheduler === 'push')
  await h.master.data.changes.addChange({ author: 'a', branch: 'two', revision: 'fresh', repository: repo })
  assert.is(await h.waitBuildset((await fresh).bsid), SUCCESS)
  assert.equal((await buildsetsOf(h, 'push')).map((b) => b.revision), ['fresh'])
}, dbs)

test.run()
