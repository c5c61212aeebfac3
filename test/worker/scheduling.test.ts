import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { builder, schedulers, steps, worker, SUCCESS } from '../../core/index.ts'
import { haveTool } from '../support/tools.ts'
import { startWorld, type WorkerWorld } from './worker-world.ts'

const t = haveTool('buildbot-worker', 'apt-get install -y buildbot-worker') ? test : test.skip

/** Each build drops a file in `dir`, then waits (up to 40 s) until `n` builds have: only builds that overlap can all pass. */
const rendezvous = (dir: string, n: number) => steps.shell({
  name: 'rendezvous',
  command: ['sh', '-c', `mkdir -p "${dir}" && touch "${dir}/$$" && i=0; while [ "$(ls "${dir}" | wc -l)" -lt ${n} ]; do i=$((i+1)); [ $i -gt 800 ] && exit 1; sleep 0.05; done`],
})

async function force(w: WorkerWorld, builderName: string): Promise<number> {
  const res = await w.rpc('forceschedulers/force', 'force', { builderNames: [builderName], reason: 'test' })
  assert.ok(Array.isArray(res.result), JSON.stringify(res))
  return (res.result as [number])[0]
}

const connected = (w: WorkerWorld, name: string) => w.until(async () => (await w.workerEntity(name)).connected_to.length > 0, `${name} to connect`)

t('two workers sharing a builder run two of its builds at the same time', async () => {
  const w = await startWorld((scratch) => ({
    workers: [worker({ name: 'w1', password: 'pw' }), worker({ name: 'w2', password: 'pw' })],
    builders: [builder({ name: 'par', workers: ['w1', 'w2'], steps: [rendezvous(join(scratch, 'meet'), 2)] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['par'] })],
  }))
  try {
    await Promise.all([w.startWorker('w1', 'pw'), w.startWorker('w2', 'pw')])
    await connected(w, 'w1'); await connected(w, 'w2')
    const a = await force(w, 'par')
    const b = await force(w, 'par')
    assert.is(await w.h.waitBuildset(a, 45_000), SUCCESS)
    assert.is(await w.h.waitBuildset(b, 45_000), SUCCESS)
    const builds = await w.builds('par')
    assert.equal(builds.map((x: { results: number }) => x.results), [SUCCESS, SUCCESS])
    const ids = new Set(builds.map((x: { workerid: number }) => x.workerid))
    assert.is(ids.size, 2, 'one build on each worker')
    assert.is(readdirSync(join(w.scratch, 'meet')).length, 2)
  } finally { await w.stop() }
})

t('a worker runs one build of a builder at a time (its build directory is shared)', async () => {
  const w = await startWorld((scratch) => ({
    workers: [worker({ name: 'w1', password: 'pw' })],
    builders: [builder({ name: 'one', workers: ['w1'], collapseRequests: false, steps: [
      steps.shell({ name: 'mark', command: ['sh', '-c', `echo start >> "${join(scratch, 'trace')}"; sleep 0.2; echo end >> "${join(scratch, 'trace')}"`] }),
    ] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['one'] })],
  }))
  try {
    // Both requests wait before the worker connects, so one pass of the distributor sees both.
    const a = await force(w, 'one')
    const b = await force(w, 'one')
    await w.startWorker('w1', 'pw')
    assert.is(await w.h.waitBuildset(a, 45_000), SUCCESS)
    assert.is(await w.h.waitBuildset(b, 45_000), SUCCESS)
    const { readFileSync } = await import('node:fs')
    assert.is(readFileSync(join(w.scratch, 'trace'), 'utf8'), 'start\nend\nstart\nend\n')
  } finally { await w.stop() }
})

t('pause and unpause over JSON-RPC: a paused worker gets no new builds', async () => {
  const w = await startWorld((scratch) => ({
    workers: [worker({ name: 'w1', password: 'pw' }), worker({ name: 'w2', password: 'pw' })],
    builders: [
      builder({ name: 'quick', workers: ['w1', 'w2'], collapseRequests: false, steps: [steps.shell({ command: ['true'] })] }),
      builder({ name: 'pair', workers: ['w1', 'w2'], steps: [rendezvous(join(scratch, 'meet'), 2)] }),
    ],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['quick'] }), schedulers.force({ name: 'force-pair', builderNames: ['pair'] })],
  }))
  try {
    await Promise.all([w.startWorker('w1', 'pw'), w.startWorker('w2', 'pw')])
    await connected(w, 'w1'); await connected(w, 'w2')
    const w1 = await w.workerEntity('w1')
    const w2 = await w.workerEntity('w2')
    const paused = await w.rpc(`workers/${w1.workerid}`, 'pause', { reason: 'maintenance' })
    assert.is(paused.error, undefined, JSON.stringify(paused))
    const ent = await w.workerEntity('w1')
    assert.is(ent.paused, true)
    assert.is(ent.pause_reason, 'maintenance')
    // Four builds at once: an unpaused w1 (least busy) would get some of them.
    const bsids = [await force(w, 'quick'), await force(w, 'quick'), await force(w, 'quick'), await force(w, 'quick')]
    for (const bs of bsids) assert.is(await w.h.waitBuildset(bs, 45_000), SUCCESS)
    const quick = await w.builds('quick')
    assert.is(quick.length, 4)
    for (const b of quick) assert.is(b.workerid, w2.workerid)

    assert.is((await w.rpc('workers/w1', 'unpause')).error, undefined)
    assert.is((await w.workerEntity('w1')).paused, false)
    // Two builds that must overlap: they need both workers, so w1 takes builds again.
    const p1 = await w.rpc('forceschedulers/force-pair', 'force', { builderNames: ['pair'], reason: 'a' })
    const p2 = await w.rpc('forceschedulers/force-pair', 'force', { builderNames: ['pair'], reason: 'b' })
    for (const p of [p1, p2]) assert.is(await w.h.waitBuildset((p.result as [number])[0], 45_000), SUCCESS)
    const pair = await w.builds('pair')
    assert.equal(new Set(pair.map((b: { workerid: number }) => b.workerid)), new Set([w1.workerid, w2.workerid]))
  } finally { await w.stop() }
})

t('graceful stop over JSON-RPC: the running build finishes, then the worker disconnects', async () => {
  const w = await startWorld((scratch) => ({
    workers: [worker({ name: 'w1', password: 'pw' })],
    builders: [builder({ name: 'gated', workers: ['w1'], steps: [
      steps.shell({ name: 'wait', command: ['sh', '-c', `touch "${join(scratch, 'running')}"; i=0; while [ ! -e "${join(scratch, 'gate')}" ]; do i=$((i+1)); [ $i -gt 800 ] && exit 1; sleep 0.05; done; echo finished`] }),
    ] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['gated'] })],
  }))
  try {
    const tw = await w.startWorker('w1', 'pw')
    await connected(w, 'w1')
    const bs = await force(w, 'gated')
    const { existsSync } = await import('node:fs')
    await w.until(() => existsSync(join(w.scratch, 'running')), 'the build to start')
    const res = await w.rpc('workers/w1', 'stop', { reason: 'going away' })
    assert.is(res.error, undefined, JSON.stringify(res))
    const ent = await w.workerEntity('w1')
    assert.is(ent.graceful, true)
    assert.ok(ent.connected_to.length > 0, 'still connected while its build runs')
    writeFileSync(join(w.scratch, 'gate'), '')
    assert.is(await w.h.waitBuildset(bs, 45_000), SUCCESS)
    const [build] = await w.builds('gated')
    assert.match(await w.stepLog(build.buildid, 0), /ofinished/)
    await w.until(async () => (await w.workerEntity('w1')).connected_to.length === 0, 'w1 to disconnect')
    // The master asked the worker process to shut down, and it did.
    await tw.exited
    // A new process under the same name is an ordinary worker again.
    await w.startWorker('w1', 'pw')
    await connected(w, 'w1')
    assert.is((await w.workerEntity('w1')).graceful, false)
    assert.is(await w.h.waitBuildset(await force(w, 'gated'), 45_000), SUCCESS)
  } finally { await w.stop() }
})

test.run()
