import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { localWorker, builder, steps, schedulers, SUCCESS } from '../../core/index.ts'
import type { MasterConfig } from '../../core/config/define-master.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'

const dbs = testDatabases()

/** A step that records what the build says of its trust as a property. */
const recordTrust = steps.custom({ name: 'record trust', async run(ctx) { await ctx.setProperty('seen_trusted', ctx.build.trusted, 'test'); return SUCCESS } })

const config = (): MasterConfig => ({
  workers: [localWorker({ name: 'local' })],
  builders: [
    builder({ name: 'parent', workers: ['local'], steps: [recordTrust, steps.trigger({ schedulerNames: ['child'], waitForFinish: true })] }),
    builder({ name: 'child', workers: ['local'], steps: [recordTrust] }),
  ],
  schedulers: [
    schedulers.force({ name: 'force', builderNames: ['parent'] }),
    schedulers.anyBranch({ name: 'prs', builderNames: ['parent'], changeFilter: { category: 'pull' }, trusted: (c) => c.trusted }),
    schedulers.anyBranch({ name: 'pushes', builderNames: ['parent'], changeFilter: { category: 'push' } }),
    schedulers.triggerable({ name: 'child', builderNames: ['child'] }),
  ],
})

async function buildsOf(h: MasterHarness, bsid: number) {
  return h.master.data.db.k.selectFrom('builds').innerJoin('buildrequests', 'buildrequests.buildrequestid', 'builds.buildrequestid')
    .select(['builds.buildid', 'builds.properties']).where('buildrequests.buildsetid', '=', bsid).execute()
}
const seen = (props: string) => (JSON.parse(props) as Record<string, [unknown, string]>).seen_trusted?.[0]

async function childBuildset(h: MasterHarness, parentBsid: number): Promise<number> {
  const [b] = await buildsOf(h, parentBsid)
  const row = await h.master.data.db.k.selectFrom('buildsets').select('bsid').where('parent_buildid', '=', b!.buildid).executeTakeFirstOrThrow()
  return row.bsid
}

async function restBuildset(h: MasterHarness, bsid: number): Promise<Record<string, unknown>> {
  const body = await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/buildsets/${bsid}`)).json() as { buildsets: Record<string, unknown>[] }
  return body.buildsets[0]!
}

async function changeBuildset(h: MasterHarness, category: string, trusted: boolean | undefined): Promise<number> {
  const added = h.waitFor<{ bsid: number; scheduler: string }>('buildsets/*/new')
  await h.master.data.changes.addChange({ author: 'someone', branch: `b-${category}-${String(trusted)}`, revision: 'abc', category, trusted })
  return (await added).bsid
}

eachDb(test, 'forced buildsets are trusted: the step sees it, REST shows it, the triggered child inherits it', async (start) => {
  const h = await start(config())
  const { bsid } = await h.force('force')
  assert.is(await h.waitBuildset(bsid), SUCCESS)
  assert.is(seen((await buildsOf(h, bsid))[0]!.properties), true)
  assert.is((await restBuildset(h, bsid)).trusted, true)
  const child = await childBuildset(h, bsid)
  assert.is((await restBuildset(h, child)).trusted, true)
  assert.is(seen((await buildsOf(h, child))[0]!.properties), true)
}, dbs)

eachDb(test, 'a scheduler decides per change: an unvouched pull request is untrusted, and so are its children and rebuilds', async (start) => {
  const h = await start(config())
  const pr = await changeBuildset(h, 'pull', undefined)
  assert.is(await h.waitBuildset(pr), SUCCESS)
  assert.is(seen((await buildsOf(h, pr))[0]!.properties), false)
  assert.is((await restBuildset(h, pr)).trusted, false)
  const child = await childBuildset(h, pr)
  assert.is((await restBuildset(h, child)).trusted, false)
  assert.is(seen((await buildsOf(h, child))[0]!.properties), false)
  // REST filters on the flag.
  const untrusted = await (await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/buildsets?trusted=false`)).json() as { buildsets: { bsid: number }[] }
  assert.equal(untrusted.buildsets.map((b) => b.bsid).sort(), [pr, child].sort())

  const [first] = await buildsOf(h, pr)
  const [rebuilt] = await h.master.control.rebuild(first!.buildid, 'tester')
  assert.is(await h.waitBuildset(rebuilt), SUCCESS)
  assert.is((await restBuildset(h, rebuilt)).trusted, false)
  assert.is(seen((await buildsOf(h, rebuilt))[0]!.properties), false)

  // The same scheduler trusts a change the adding code vouched for; a plain scheduler trusts all.
  const vouched = await changeBuildset(h, 'pull', true)
  assert.is(await h.waitBuildset(vouched), SUCCESS)
  assert.is((await restBuildset(h, vouched)).trusted, true)
  const push = await changeBuildset(h, 'push', undefined)
  assert.is(await h.waitBuildset(push), SUCCESS)
  assert.is((await restBuildset(h, push)).trusted, true)
  assert.is(seen((await buildsOf(h, push))[0]!.properties), true)
}, dbs)

test.run()
