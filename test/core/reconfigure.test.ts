import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { localWorker, builder, steps, schedulers, SUCCESS } from '../../core/index.ts'
import type { MasterConfig } from '../../core/config/define-master.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb } from '../support/master-harness.ts'

eachDb(test, 'reconfigure while a build runs: add, change and remove builders and schedulers; only changed parts restart', async (start) => {
  const gate = join(tmpdir(), `bbn-gate-${process.pid}-${Math.random().toString(36).slice(2)}`)
  const long = builder({ name: 'long', workers: ['local'], steps: [steps.shell({ name: 'wait', command: ['sh', '-c', `while [ ! -e ${gate} ]; do sleep 0.02; done`] })] })
  const worker = localWorker({ name: 'local' })
  const v1: MasterConfig = {
    workers: [worker], collapseRequests: false,
    builders: [
      long,
      builder({ name: 'keep', workers: ['local'], steps: [steps.shell({ name: 'old-step', command: ['true'] })] }),
      builder({ name: 'gone', workers: ['local'], steps: [steps.shell({ command: ['true'] })] }),
    ],
    schedulers: [
      schedulers.force({ name: 'force', builderNames: ['long', 'keep', 'gone'] }),
      schedulers.singleBranch({ name: 'stable', builderNames: ['keep'], treeStableTimer: 2 }),
      schedulers.force({ name: 'force-gone', builderNames: ['gone'] }),
    ],
  }
  const v2: MasterConfig = {
    ...v1,
    builders: [
      long,
      builder({ name: 'keep', workers: ['local'], description: 'changed', steps: [steps.shell({ name: 'new-step', command: ['true'] })] }),
      builder({ name: 'added', workers: ['local'], steps: [steps.shell({ name: 'hello', command: ['echo', 'hi'] })] }),
    ],
    schedulers: [
      schedulers.force({ name: 'force', builderNames: ['long', 'keep', 'added'] }),
      schedulers.singleBranch({ name: 'stable', builderNames: ['keep'], treeStableTimer: 2 }),
      schedulers.force({ name: 'force-added', builderNames: ['added'] }),
    ],
  }
  const h = await start(v1)
  try {
    const k = h.master.data.db.k
    const running = h.waitFor<{ buildid: number }>('steps/*/started')
    const longSet = await h.force('force', { builderNames: ['long'] })
    const { buildid } = await running
    const build = h.master.brd.findBuild(buildid)!
    // A change waits in the unchanged tree-stable scheduler across the reconfigure.
    const stableSet = h.waitFor<{ bsid: number; scheduler: string }>('buildsets/*/new', (m) => m.scheduler === 'stable')
    await h.master.data.changes.addChange({ author: 'a', branch: 'main', revision: 'r1', repository: 'x' })

    const before = { stable: h.master.schedulers.get('stable')!.runtime, force: h.master.schedulers.get('force')!.runtime, slot: h.master.workers.get('local') }
    const goneId = h.builderId('gone')
    const goneSched = h.master.schedulers.get('force-gone')!.schedulerid
    await h.master.reconfigure(await h.resolve(v2))

    assert.is(h.master.schedulers.get('stable')!.runtime, before.stable, 'an unchanged scheduler keeps running')
    assert.is.not(h.master.schedulers.get('force')!.runtime, before.force, 'a changed scheduler is restarted')
    assert.is(h.master.schedulers.get('force-gone'), undefined)
    assert.ok(h.master.schedulers.get('force-added'))
    assert.is(h.master.workers.get('local'), before.slot, 'the worker is kept')
    assert.is(h.master.brd.builder('gone'), undefined)
    assert.ok(h.master.brd.builder('added'))
    assert.is(h.master.brd.findBuild(buildid), build, 'the running build goes on')
    const masters = await k.selectFrom('builder_masters').select('builderid').execute()
    assert.not.ok(masters.some((m) => m.builderid === goneId))
    assert.is(await k.selectFrom('scheduler_masters').select('schedulerid').where('schedulerid', '=', goneSched).executeTakeFirst(), undefined)
    const keepRow = await k.selectFrom('builders').selectAll().where('name', '=', 'keep').executeTakeFirstOrThrow()
    assert.is(keepRow.description, 'changed')

    writeFileSync(gate, '')
    assert.is(await h.waitBuildset(longSet.bsid), SUCCESS)
    assert.is((await h.master.data.builds.getBuild(buildid))!.results, SUCCESS)
    // The change from before the reconfigure is built by the unchanged scheduler, with the new steps.
    const stable = await stableSet
    assert.is(await h.waitBuildset(stable.bsid), SUCCESS)
    const added = await h.force('force-added')
    assert.is(await h.waitBuildset(added.bsid), SUCCESS)
    const stepNames = await k.selectFrom('steps').innerJoin('builds', 'builds.buildid', 'steps.buildid').innerJoin('builders', 'builders.builderid', 'builds.builderid')
      .select(['builders.name as builder', 'steps.name as step']).orderBy('steps.stepid').execute()
    assert.equal(stepNames.map((s) => `${s.builder}:${s.step}`), ['long:wait', 'keep:new-step', 'added:hello'])
    try { await h.force('force-gone'); assert.unreachable('removed scheduler still forces') } catch (e) { assert.match((e as Error).message, /no force scheduler named 'force-gone'/) }
  } finally { rmSync(gate, { force: true }) }
}, testDatabases())

test.run()
