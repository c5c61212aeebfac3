import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { builder, schedulers, steps, worker, SUCCESS } from '../../core/index.ts'
import { haveTool } from '../support/tools.ts'
import { startWorld } from './worker-world.ts'

const t = haveTool('buildbot-worker', 'apt-get install -y buildbot-worker') ? test : test.skip

t('a connected worker is listed with connected_to, configured_on and its workerinfo', async () => {
  const w = await startWorld({
    workers: [worker({ name: 'w1', password: 'pw1' })],
    builders: [
      builder({ name: 'alpha', workers: ['w1'], steps: [steps.shell({ command: ['true'] })] }),
      builder({ name: 'beta', workers: ['w1'], steps: [steps.shell({ command: ['true'] })] }),
    ],
  })
  try {
    const before = await w.workerEntity('w1')
    assert.equal(before.connected_to, [])
    const tw = await w.startWorker('w1', 'pw1')
    const ent = await w.until(async () => { const e = await w.workerEntity('w1'); return e.connected_to.length ? e : undefined }, 'w1 to connect')
    const masterid = ent.connected_to[0].masterid
    assert.type(masterid, 'number')
    const builderids = ent.configured_on.map((c: { builderid: number }) => c.builderid).sort()
    assert.equal(builderids, [w.h.builderId('alpha'), w.h.builderId('beta')].sort())
    for (const c of ent.configured_on) assert.is(c.masterid, masterid)
    // What the worker process reported (get_worker_info); Buildbot keeps admin, host, access_uri, version.
    assert.is(ent.workerinfo.admin, await readFile(join(tw.dir, 'info', 'admin'), 'utf8'))
    assert.is(ent.workerinfo.host, await readFile(join(tw.dir, 'info', 'host'), 'utf8'))
    assert.match(ent.workerinfo.version, /^\d+\.\d+/)
    assert.equal(Object.keys(ent.workerinfo).sort(), ['access_uri', 'admin', 'host', 'version'])
    // The collection lists it the same way, and the per-builder listing too.
    const all = (await w.get('workers')).workers
    assert.is(all.length, 1)
    assert.equal(all[0].connected_to, ent.connected_to)
    assert.is((await w.get(`builders/${w.h.builderId('beta')}/workers`)).workers[0].name, 'w1')

    // A worker process that goes away is shown disconnected.
    await tw.stop()
    await w.until(async () => (await w.workerEntity('w1')).connected_to.length === 0, 'w1 to be shown disconnected')
  } finally { await w.stop() }
})

t('a wrong password is refused; the master keeps serving and building with another worker', async () => {
  const w = await startWorld({
    workers: [worker({ name: 'bad', password: 'right' }), worker({ name: 'good', password: 'pw' })],
    builders: [builder({ name: 'b', workers: ['bad', 'good'], steps: [steps.shell({ command: ['sh', '-c', 'echo built-by-$WORKER'], env: { WORKER: 'x' } })] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['b'] })],
  })
  try {
    const bad = await w.startWorker('bad', 'wrong')
    // The worker's own log shows its connection attempt was refused (it keeps retrying).
    await w.until(async () => /upgrade failed \[401\]: Unauthorized/.test(await readFile(join(bad.dir, 'twistd.log'), 'utf8').catch(() => '')), 'the refusal in the worker log')
    assert.equal((await w.workerEntity('bad')).connected_to, [])
    assert.is(bad.process.exitCode, null, 'the refused worker process is still running (retrying)')

    await w.startWorker('good', 'pw')
    await w.until(async () => (await w.workerEntity('good')).connected_to.length > 0, 'good to connect')
    const res = await w.rpc('forceschedulers/force', 'force', { builderNames: ['b'], reason: 'test' })
    assert.ok(Array.isArray(res.result), JSON.stringify(res))
    const [bsid] = res.result as [number]
    assert.is(await w.h.waitBuildset(bsid), SUCCESS)
    const [build] = await w.builds('b')
    assert.is(build.workerid, (await w.workerEntity('good')).workerid)
    assert.match(await w.stepLog(build.buildid, 0), /obuilt-by-x/)
    // Still refused after all that.
    assert.equal((await w.workerEntity('bad')).connected_to, [])
  } finally { await w.stop() }
})

test.run()
