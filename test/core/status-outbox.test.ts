import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { builder, localWorker, statusReporter, sendOutcomeOf, steps, FAILURE, SUCCESS, type MasterConfig, type StatusUpdate } from '../../core/index.ts'
import { startChildMaster } from '../support/child-master.ts'
import { connectDb } from '../../core/db/connect.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb } from '../support/master-harness.ts'
import { startStatusReceiver, type StatusReceiver } from '../support/status-receiver.ts'

const root = resolve(import.meta.dirname, '../..')
const dbs = testDatabases()

/** A reporter posting every update as JSON to `url`; builds of any builder become `ci/<builder>` statuses. */
function reporter(url: string, retryMs = 20) {
  return statusReporter({
    name: 'loopback', retry: { initialMs: retryMs, maxMs: 200 },
    async send(u, signal) {
      const r = await fetch(url, { method: 'POST', signal, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ context: u.context, state: u.state, revision: u.revision, description: u.description }) })
      return sendOutcomeOf(r)
    },
    fromBuild({ event, build, properties, url: target }): StatusUpdate {
      const state = event === 'started' ? 'pending' : build.results === SUCCESS ? 'success' : 'failure'
      return { repository: 'acme/app', revision: String(properties.revision), context: `ci/${String(properties.buildername)}`, state, description: `${event}`, targetUrl: target }
    },
  })
}

const builders = [
  builder({ name: 'ok', workers: ['local'], steps: [steps.shell({ command: ['true'] })] }),
  builder({ name: 'bad', workers: ['local'], steps: [steps.shell({ command: ['false'] })] }),
]

/** The last delivered state per context, and how often each (context, state) was delivered. */
function summary(rx: StatusReceiver) {
  const last = new Map<string, string>()
  const times = new Map<string, number>()
  for (const b of rx.delivered) {
    last.set(String(b.context), String(b.state))
    const k = `${String(b.context)}=${String(b.state)}`
    times.set(k, (times.get(k) ?? 0) + 1)
  }
  return { last: Object.fromEntries(last), times: Object.fromEntries(times) }
}

eachDb(test, 'statuses go through the outbox: three errors, then 429 with Retry-After, then 200: each final state arrives once, newest last', async (start) => {
  let answered = 0
  const rx = await startStatusReceiver(() => {
    const n = answered++
    if (n < 3) return { status: 502 }
    if (n === 3) return { status: 429, headers: { 'retry-after': '1' } }
    return { status: 201 }
  })
  try {
    const h = await start({ workers: [localWorker({ name: 'local' })], builders, reporters: [reporter(rx.url)] } satisfies MasterConfig)
    const ok = await h.addBuildset(['ok'], { revision: 'c0ffee' })
    const bad = await h.addBuildset(['bad'], { revision: 'c0ffee' })
    assert.is(await h.waitBuildset(ok.bsid), SUCCESS)
    assert.is(await h.waitBuildset(bad.bsid), FAILURE)
    await h.until(() => { const s = summary(rx).last; return s['ci/ok'] === 'success' && s['ci/bad'] === 'failure' }, 'both final states to be delivered')
    await h.until(async () => (await h.master.data.statuses.unsent('loopback')).length === 0, 'the outbox to be empty')
    const { times, last } = summary(rx)
    assert.equal(last, { 'ci/ok': 'success', 'ci/bad': 'failure' }, 'the newest state of each context arrived last')
    assert.is(times['ci/ok=success'], 1)
    assert.is(times['ci/bad=failure'], 1)
    assert.ok(rx.received.slice(0, 3).every((r) => r.answered === 502))
    assert.is(rx.received[3]!.answered, 429)
    // Every row is delivered once: the outbox keeps the last sent state of each key, nothing unsent.
    const rows = await h.master.data.statuses.list('loopback')
    assert.equal(rows.map((r) => [r.context, r.state, r.sentAtMs != null]).sort(), [['ci/bad', 'failure', true], ['ci/ok', 'success', true]])
    // A state equal to the one sent last is not sent again; a newer one is.
    assert.is(await h.master.data.statuses.queue('loopback', { repository: 'acme/app', revision: 'c0ffee', context: 'ci/ok', state: 'success', description: 'finished', targetUrl: rows.find((r) => r.context === 'ci/ok')!.targetUrl }), undefined)
    assert.is(await h.master.data.statuses.queue('loopback', { repository: 'acme/app', revision: 'c0ffee', context: 'ci/new', state: 'success' }, { onlyIfReported: true }), undefined, 'onlyIfReported: nothing of that key was reported')
  } finally { await rx.close() }
}, dbs)

eachDb(test, 'a master killed (kill -9) after storing a status and before sending it delivers it after its restart', async (start, db) => {
  const basedir = mkdtempSync(join(tmpdir(), 'bbn-outbox-'))
  // The killed master's requests are never answered: nothing it sends counts as delivered.
  const rx = await startStatusReceiver(() => 'hang')
  try {
    const dbUrl = await db.url(basedir)
    const masterName = `outbox-test:${basedir}`
    writeFileSync(join(basedir, 'package.json'), '{"type":"module"}')
    const configFile = join(basedir, 'master.config.ts')
    writeFileSync(configFile, `import { defineMaster, localWorker, builder, steps, statusReporter, sendOutcomeOf, SUCCESS } from ${JSON.stringify(join(root, 'core/index.ts'))}
export default defineMaster({
  basedir: ${JSON.stringify(basedir)}, db: ${JSON.stringify(dbUrl)}, masterName: ${JSON.stringify(masterName)}, logLevel: 'error', www: { port: 0 },
  workers: [localWorker({ name: 'local' })],
  builders: [builder({ name: 'ok', workers: ['local'], steps: [steps.shell({ command: ['true'] })] })],
  reporters: [statusReporter({
    name: 'loopback',
    async send(u, signal) {
      const r = await fetch(${JSON.stringify(rx.url)}, { method: 'POST', signal, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ context: u.context, state: u.state }) })
      return sendOutcomeOf(r)
    },
    fromBuild: ({ event, build, properties }) => ({ repository: 'acme/app', revision: 'c0ffee', context: 'ci/' + String(properties.buildername), state: event === 'started' ? 'pending' : build.results === SUCCESS ? 'success' : 'failure', description: event }),
  })],
})
`)
    const child = startChildMaster(configFile, { builder: 'ok', count: 1 })
    try {
      await child.ready
      // Stored: the final state waits in the outbox while the pending one is being sent (and never answered).
      const probe = await connectDb(dbUrl)
      const deadline = Date.now() + 30_000
      for (;;) {
        const rows = await probe.k.selectFrom('status_outbox').select(['state', 'sent_at_ms']).execute()
        if (rows.some((r) => r.state === 'success' && r.sent_at_ms == null) && rx.received.length >= 1) break
        if (Date.now() > deadline) throw new Error(`the child master did not store the final status: ${JSON.stringify(rows)}`)
        await new Promise((r) => setTimeout(r, 20))
      }
      await probe.close()
    } finally {
      await child.kill()
    }
    assert.equal(rx.delivered, [], 'nothing was delivered before the kill')
    rx.setPlan(() => ({ status: 201 }))
    const h = await start({
      masterName, workers: [localWorker({ name: 'local' })],
      builders: [builder({ name: 'ok', workers: ['local'], steps: [steps.shell({ command: ['true'] })] })], reporters: [reporter(rx.url)],
    }, { basedir, dbUrl })
    await h.until(() => rx.delivered.some((b) => b.state === 'success'), 'the stored status to be delivered after the restart')
    await h.until(async () => (await h.master.data.statuses.unsent('loopback')).length === 0, 'the outbox to be empty')
    assert.equal(rx.delivered.map((b) => `${String(b.context)}=${String(b.state)}`), ['ci/ok=success'], 'only the newest state, once')
  } finally {
    await rx.close()
    rmSync(basedir, { recursive: true, force: true })
  }
}, dbs)

eachDb(test, 'a reconfigure replaces a status reporter: the new instance sends what the old one had not', async (start) => {
  const rx = await startStatusReceiver(() => 'hang')
  try {
    const cfg = (): MasterConfig => ({ reporters: [reporter(rx.url)] })
    const h = await start(cfg())
    const u: StatusUpdate = { repository: 'acme/app', revision: 'c0ffee', context: 'ci/x', state: 'pending' }
    await h.master.data.statuses.queue('loopback', u)
    await h.until(() => rx.received.length === 1, 'the first instance to send')
    await h.master.data.statuses.queue('loopback', { ...u, state: 'success' })
    rx.setPlan(() => ({ status: 201 }))
    await h.master.reconfigure(await h.resolve(cfg()))
    await h.until(() => rx.delivered.length >= 1, 'the new instance to send')
    await h.until(async () => (await h.master.data.statuses.unsent('loopback')).length === 0, 'the outbox to be empty')
    assert.equal(rx.delivered.map((b) => b.state), ['success'])
  } finally { await rx.close() }
}, dbs)

// Two masters in one process on one sqlite file would block each other on the file lock.
const pg = dbs.filter((d) => d.name === 'postgres')
if (!pg.length) test.skip('masters sharing a database send their own statuses (needs TEST_PG_URL)', () => {})

eachDb(test, 'masters sharing a database send the statuses they queued; a stopped master\'s unsent ones are adopted', async (start) => {
  const rxA = await startStatusReceiver(() => 'hang')
  const rxB = await startStatusReceiver()
  try {
    const reporterTo = (url: string) => statusReporter({
      name: 'shared', pollMs: 50,
      async send(u, signal) { return sendOutcomeOf(await fetch(url, { method: 'POST', signal, body: JSON.stringify({ context: u.context, state: u.state }) })) },
    })
    const a = await start({ masterName: 'status-a', reporters: [reporterTo(rxA.url)] })
    const b = await start({ masterName: 'status-b', reporters: [reporterTo(rxB.url)] }, { dbUrl: a.dbUrl })
    const u = { repository: 'acme/app', revision: 'c0ffee', context: 'ci/a', state: 'pending' as const }
    await a.master.data.statuses.queue('shared', u)
    await a.until(() => rxA.received.length === 1, 'master A to send its status')
    await b.master.data.statuses.queue('shared', { ...u, context: 'ci/b', state: 'success' })
    await b.until(() => rxB.delivered.length === 1, 'master B to send its status')
    await a.master.data.statuses.queue('shared', { ...u, state: 'success' })
    assert.equal(rxB.delivered, [{ context: 'ci/b', state: 'success' }], 'B does not send what A queued while A runs')
    // A stops with its newest state unsent (its receiver never answered): B delivers it.
    await a.stop()
    await b.until(() => rxB.delivered.length === 2, 'master B to adopt the stopped master\'s status')
    assert.equal(rxB.delivered[1], { context: 'ci/a', state: 'success' })
    assert.equal(rxA.delivered, [])
  } finally { await rxA.close(); await rxB.close() }
}, pg)

test.run()
