import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { localWorker, builder, steps, schedulers, CANCELLED, FAILURE, SUCCESS } from '../../core/index.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb } from '../support/master-harness.ts'

const CHILDREN = 500

eachDb(test, `a Trigger fan-out of ${CHILDREN} children waits for all; the parent gets the worst child's result`, async (start) => {
  const h = await start({
    workers: [localWorker({ name: 'local', maxBuilds: 16 })],
    builders: [
      builder({
        name: 'parent', workers: ['local'],
        steps: [steps.trigger({
          name: 'fan out', waitForFinish: true,
          schedulersAndProperties: () => Array.from({ length: CHILDREN }, (_, i) => ({ scheduler: 'each', properties: { index: i, attr: `pkg-${i}` } })),
        })],
      }),
      // One child in 100 fails; the rest only set a property from what they were given. As in
      // Buildbot (and buildbot-nix), children only differ in Trigger-set properties, which
      // collapsing ignores: their builder turns it off.
      builder({
        name: 'child', workers: ['local'], collapseRequests: false,
        steps: [steps.custom({
          name: 'check', async run(ctx) {
            const i = ctx.getProperty('index') as number
            await ctx.setProperty('seen', `${ctx.getProperty('attr')}`, 'test')
            return i % 100 === 42 ? FAILURE : SUCCESS
          },
        })],
      }),
    ],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['parent'] }), schedulers.triggerable({ name: 'each', builderNames: ['child'] })],
  })
  const { bsid } = await h.force('force')
  assert.is(await h.waitBuildset(bsid, 120_000), FAILURE)

  const k = h.master.data.db.k
  const childSets = await k.selectFrom('buildsets').selectAll().where('parent_buildid', 'is not', null).execute()
  assert.is(childSets.length, CHILDREN)
  assert.ok(childSets.every((s) => s.complete === 1 && s.parent_relationship === 'Triggered from'))
  const childBuilds = await k.selectFrom('builds').selectAll().where('builderid', '=', h.builderId('child')).execute()
  assert.is(childBuilds.length, CHILDREN)
  const indexes = childBuilds.map((b) => JSON.parse(b.properties) as Record<string, [unknown, string]>)
  assert.equal(indexes.map((p) => p.index![0] as number).sort((a, b) => a - b), Array.from({ length: CHILDREN }, (_, i) => i))
  assert.ok(indexes.every((p) => p.seen![0] === `pkg-${p.index![0]}` && p.index![1] === 'Trigger'))
  assert.is(childBuilds.filter((b) => b.results === FAILURE).length, CHILDREN / 100)
  const parent = await k.selectFrom('builds').selectAll().where('builderid', '=', h.builderId('parent')).executeTakeFirstOrThrow()
  assert.is(parent.results, FAILURE)
  const step = await k.selectFrom('steps').selectAll().where('buildid', '=', parent.buildid).executeTakeFirstOrThrow()
  assert.is(step.state_string, `triggered ${CHILDREN} builds`)
}, testDatabases())

eachDb(test, 'stopping a fan-out parent cancels its pending children and stops the running ones', async (start) => {
  const h = await start({
    workers: [localWorker({ name: 'local', maxBuilds: 4 })],
    builders: [
      builder({ name: 'parent', workers: ['local'], steps: [steps.trigger({ waitForFinish: true, schedulersAndProperties: () => Array.from({ length: 100 }, (_, i) => ({ scheduler: 'each', properties: { i } })) })] }),
      builder({ name: 'child', workers: ['local'], collapseRequests: false, steps: [steps.shell({ command: ['sleep', '300'] })] }),
    ],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['parent'] }), schedulers.triggerable({ name: 'each', builderNames: ['child'] })],
  })
  const k = h.master.data.db.k
  const parentBuild = h.waitFor<{ buildid: number }>('builds/*/new')
  const { bsid } = await h.force('force')
  const { buildid } = await parentBuild
  // Wait until three children run (the parent holds the fourth slot).
  await h.until(async () => (await k.selectFrom('steps').select('stepid').where('name', '=', 'shell').where('started_at', 'is not', null).execute()).length >= 3, 'children to run')
  await h.master.control.stopBuild(buildid, 'enough')
  assert.is(await h.waitBuildset(bsid), CANCELLED)
  const children = await k.selectFrom('buildsets').select(['complete', 'results']).where('parent_buildid', '=', buildid).execute()
  assert.is(children.length, 100)
  assert.ok(children.every((c) => c.complete === 1 && c.results === CANCELLED), JSON.stringify(children.filter((c) => c.results !== CANCELLED)))
  const childBuilds = await k.selectFrom('builds').select(['results']).where('builderid', '=', h.builderId('child')).execute()
  assert.ok(childBuilds.length >= 3 && childBuilds.every((b) => b.results === CANCELLED))
  assert.is(h.master.brd.activeBuildCount(), 0)
}, testDatabases())

test.run()
