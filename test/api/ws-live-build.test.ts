import { test } from 'uvu'
import * as assert from 'uvu/assert'
import WebSocket from 'ws'
import { rmSync } from 'node:fs'
import { builder, steps, schedulers, localWorker } from '../../core/index.ts'
import { startMaster, type MasterHarness } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'

for (const db of testDatabases()) {
  let h: MasterHarness

  test.before(async () => {
    h = await startMaster(db, {
      workers: [localWorker({ name: 'local' })],
      builders: [builder({ name: 'echo', workers: ['local'], steps: [steps.shell({ name: 'say', command: ['sh', '-c', 'echo out; echo err >&2'] })] })],
      schedulers: [schedulers.force({ name: 'force', builderNames: ['echo'] })],
    })
  })
  test.after(async () => { await h.stop(); rmSync(h.basedir, { recursive: true, force: true }) })

  test(`[${db.name}] /ws subscriber sees a forced build's events in order`, async () => {
    const base = `127.0.0.1:${h.master.ports.www}`
    const ws = new WebSocket(`ws://${base}/ws`)
    const frames: { k?: string; code?: number; _id?: number }[] = []
    ws.on('message', (d) => frames.push(JSON.parse(String(d))))
    await new Promise((r) => ws.once('open', r))
    for (const [i, path] of ['buildsets/*/*', 'buildrequests/*/*', 'builds/*/*', 'steps/*/*', 'logs/*/*'].entries()) {
      ws.send(JSON.stringify({ cmd: 'startConsuming', path, _id: i + 1 }))
    }
    await h.until(() => frames.filter((f) => f.code === 200).length === 5, 'subscriptions acknowledged')
    const res = await fetch(`http://${base}/api/v2/forceschedulers/force`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'force', params: { builderNames: ['echo'] }, id: 1 }),
    })
    const body = await res.json() as { result: [number, Record<string, number>] }
    assert.is(res.status, 200)
    const bsid = body.result[0]
    await h.until(() => frames.some((f) => f.k === `buildsets/${bsid}/complete`), 'buildset complete event')
    ws.close()
    const keys = frames.map((f) => f.k).filter((k): k is string => !!k)
    const first = (re: RegExp) => keys.findIndex((k) => re.test(k))
    const order = [
      // Buildbot announces a buildset's requests before the buildset itself.
      first(/^buildrequests\/\d+\/new$/), first(new RegExp(`^buildsets/${bsid}/new$`)), first(/^builds\/\d+\/new$/),
      first(/^steps\/\d+\/new$/), first(/^logs\/\d+\/new$/), first(/^logs\/\d+\/append$/), first(/^builds\/\d+\/finished$/),
      first(new RegExp(`^buildsets/${bsid}/complete$`)),
    ]
    assert.ok(order.every((i) => i >= 0), `every event seen: ${JSON.stringify(order)} in ${keys.join(' ')}`)
    assert.equal([...order].sort((a, b) => a - b), order, `events in order: ${keys.join(' ')}`)
    const finished = frames.find((f) => /^builds\/\d+\/finished$/.test(f.k ?? '')) as unknown as { m: { results: number; complete: boolean } }
    assert.is(finished.m.results, 0)
    assert.is(finished.m.complete, true)
  })
}

test.run()
