import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { builder, schedulers, steps, worker, CANCELLED, RETRY, SUCCESS } from '../../core/index.ts'
import { haveTool } from '../support/tools.ts'
import { killProcesses, processRunning, startWorld } from './worker-world.ts'

const t = haveTool('buildbot-worker', 'apt-get install -y buildbot-worker') ? test : test.skip

/** A `sleep` argument no other process on the machine has, so we can find (and clean up) it. */
const uniqueSleep = (secs: number) => `${secs}.${process.pid}${Math.floor(Math.random() * 1e6)}`

t('stopping a build through JSON-RPC interrupts sleep 60: CANCELLED, no sleep left', async () => {
  const secs = uniqueSleep(60)
  const w = await startWorld({
    workers: [worker({ name: 'w1', password: 'pw' })],
    builders: [builder({ name: 'long', workers: ['w1'], steps: [
      steps.shell({ name: 'sleep', command: ['sh', '-c', `echo started; sleep ${secs}; echo not-reached`] }),
      steps.shell({ name: 'skipped-after-stop', command: ['true'] }),
    ] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['long'] })],
  })
  try {
    await w.startWorker('w1', 'pw')
    await w.until(async () => (await w.workerEntity('w1')).connected_to.length > 0, 'w1 to connect')
    const forced = await w.rpc('forceschedulers/force', 'force', { builderNames: ['long'], reason: 'test' })
    assert.ok(Array.isArray(forced.result), JSON.stringify(forced))
    await w.until(() => processRunning(`sleep ${secs}`), 'the sleep to start on the worker')
    const [build] = await w.builds('long')
    const res = await w.rpc(`builds/${build.buildid}`, 'stop', {})
    assert.is(res.error, undefined, JSON.stringify(res))
    // The deadline (45 s) is below the sleep (60 s): completing at all proves the interrupt.
    const done = await w.finishedBuild(build.buildid)
    assert.is(done.results, CANCELLED)
    assert.not.ok(await processRunning(`sleep ${secs}`), 'the sleep process is gone')
    const stepList = (await w.get(`builds/${build.buildid}/steps`)).steps
    assert.is(stepList[0].results, CANCELLED)
    assert.is(stepList.length, 1, 'no later step ran')
    const log = await w.stepLog(build.buildid, 0)
    assert.match(log, /ostarted/)
    assert.not.match(log, /^onot-reached/m)
    const [bs] = forced.result as [number]
    assert.is(await w.h.waitBuildset(bs), CANCELLED)
    // The worker is still usable afterwards.
    assert.ok((await w.workerEntity('w1')).connected_to.length > 0)
  } finally {
    await killProcesses(`sleep ${secs}`)
    await w.stop()
  }
})

t('SIGKILL of the worker mid-build: RETRY, the request is queued again and completes on a new worker process', async () => {
  const secs = uniqueSleep(30)
  const w = await startWorld((scratch) => ({
    workers: [worker({ name: 'w1', password: 'pw' })],
    builders: [builder({ name: 'flaky', workers: ['w1'], steps: [
      // The first attempt marks itself and sleeps; the retry (marker present) succeeds at once.
      steps.shell({ name: 'work', command: ['sh', '-c', `if [ -e "$MARKER" ]; then echo second-run; else touch "$MARKER"; sleep ${secs}; fi`], env: { MARKER: join(scratch, 'marker') } }),
    ] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['flaky'] })],
  }))
  const marker = join(w.scratch, 'marker')
  try {
    const first = await w.startWorker('w1', 'pw')
    await w.until(async () => (await w.workerEntity('w1')).connected_to.length > 0, 'w1 to connect')
    const forced = await w.rpc('forceschedulers/force', 'force', { builderNames: ['flaky'], reason: 'test' })
    const [bsid, brids] = forced.result as [number, Record<string, number>]
    const brid = Object.values(brids)[0]!
    // (`sh -c` has the sleep in its command line too; the marker is touched just before the sleep.)
    await w.until(async () => existsSync(marker) && await processRunning(`sleep ${secs}`), 'the sleep to start on the worker')

    first.kill()
    await first.exited
    // The build ends RETRY and the request goes back to the queue: unclaimed and not complete.
    const [lost] = await w.builds('flaky')
    assert.is((await w.finishedBuild(lost.buildid)).results, RETRY)
    const req = await w.until(async () => {
      const r = (await w.get(`buildrequests/${brid}`)).buildrequests[0]
      return r.claimed === false ? r : undefined
    }, 'the request to be unclaimed')
    assert.is(req.complete, false)
    assert.equal((await w.workerEntity('w1')).connected_to, [])
    // The killed worker's orphaned sleep is not part of what the master controls; clean it up.
    await killProcesses(`sleep ${secs}`)

    await w.startWorker('w1', 'pw')
    assert.is(await w.h.waitBuildset(bsid, 45_000), SUCCESS)
    const builds = await w.builds('flaky')
    assert.equal(builds.map((b: { buildrequestid: number; results: number }) => [b.buildrequestid, b.results]), [[brid, RETRY], [brid, SUCCESS]])
    assert.match(await w.stepLog(builds[1].buildid, 0), /osecond-run/)
    const done = (await w.get(`buildrequests/${brid}`)).buildrequests[0]
    assert.is(done.complete, true)
    assert.is(done.results, SUCCESS)
  } finally {
    await killProcesses(`sleep ${secs}`)
    await w.stop()
  }
})

test.run()
