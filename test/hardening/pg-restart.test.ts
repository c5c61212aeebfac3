import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { existsSync, writeFileSync, rmSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { builder, localWorker, schedulers, steps, SUCCESS } from '../../core/index.ts'
import { haveExecutable } from '../support/tools.ts'
import { startMaster, type MasterHarness } from '../support/master-harness.ts'
import { PG_BIN, startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.ts'
import type { TestDatabase } from '../support/databases.ts'
import { createHarness } from '../../core/http/test-harness.ts'
import { DatabaseUnavailableError, isDatabaseUnavailable } from '../../core/db/storage-error.ts'

// The PostgreSQL server restarted under a running master (a private cluster: the machine's
// shared server stays untouched). The master waits for it and goes on: calls made while it is
// down are answered once it is back (or refused with a 503), every forced build acknowledged
// before, during or after runs exactly once, and a build running across the restart finishes.
const hasPg = haveExecutable(join(PG_BIN, 'initdb'), 'apt-get install -y postgresql')
const maybe = hasPg ? test : test.skip

interface RpcAnswer { status: number; body: { result?: [number, Record<string, number>]; error?: { code: number; message: string } } }

maybe('[postgres] the server restarted under a running master: it reconnects, loses no acknowledged write, runs nothing twice, and a running build finishes', async () => {
  let pg: PrivatePostgres | undefined
  let h: MasterHarness | undefined
  const dir = mkdtempSync(join(tmpdir(), 'bbn-pg-restart-'))
  try {
    pg = await startPrivatePostgres()
    const gate = join(dir, 'gate')
    const exited = join(dir, 'exited')
    const db: TestDatabase = { name: 'postgres', url: async () => pg!.url, cleanup: async () => {} }
    h = await startMaster(db, {
      collapseRequests: false,
      workers: [localWorker({ name: 'local', maxBuilds: 4 })],
      builders: [
        // Streams lines until the gate opens: its log is written while the server is down.
        builder({ name: 'long', workers: ['local'], steps: [steps.shell({ name: 'stream', command: ['sh', '-c', `i=0; while [ ! -e ${gate} ]; do echo "line $i"; i=$((i+1)); sleep 0.01; done; echo done; touch ${exited}`] })] }),
        builder({ name: 'quick', workers: ['local'], steps: [steps.shell({ name: 'echo', command: ['echo', 'quick'] })] }),
      ],
      schedulers: [schedulers.force({ name: 'force', builderNames: ['long', 'quick'] })],
    })
    const base = `http://127.0.0.1:${h.master.ports.www}/api/v2/`
    const force = async (builderName: string, reason: string): Promise<RpcAnswer> => {
      const res = await fetch(`${base}forceschedulers/force`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', method: 'force', params: { builderNames: [builderName], reason }, id: 1 }),
      })
      return { status: res.status, body: await res.json() as RpcAnswer['body'] }
    }
    const acked: { bsid: number; reason: string }[] = []
    const record = (a: RpcAnswer, reason: string) => {
      if (a.status === 200) { acked.push({ bsid: a.body.result![0], reason }); return }
      // Refused while the database is away: a clear 503, never a 500.
      assert.is(a.status, 503, JSON.stringify(a))
      assert.match(a.body.error!.message, /database/)
    }

    const longStarted = h.waitFor('builds/*/new')
    record(await force('long', 'before: long'), 'before: long')
    await longStarted
    for (let i = 0; i < 3; i++) record(await force('quick', `before ${i}`), `before ${i}`)
    await Promise.all(acked.slice(1).map((a) => h!.waitBuildset(a.bsid)))
    // The long build has stored log lines; then the server goes away.
    await h.until(async () => (await h!.master.data.db.k.selectFrom('logchunks').select('logid').limit(1).execute()).length > 0, 'log lines of the long build')

    await pg.stop()
    const during = [0, 1, 2].map((i) => force('quick', `during ${i}`).then((a) => ({ a, reason: `during ${i}` })))
    const read = fetch(`${base}builds?limit=5`).then((r) => r.status)
    writeFileSync(gate, '')
    // The long build's command ends while the server is down: its last lines, the step's end and
    // the build's end are written once the server is back.
    await h.until(() => existsSync(exited), 'the long command to end', 30_000)
    await pg.start()
    for (const { a, reason } of await Promise.all(during)) record(a, reason)
    const readStatus = await read
    assert.ok(readStatus === 200 || readStatus === 503, `a read during the restart: 200 or 503, got ${readStatus}`)
    for (let i = 0; i < 3; i++) record(await force('quick', `after ${i}`), `after ${i}`)
    const ready = await fetch(`http://127.0.0.1:${h.master.ports.www}/ready`)
    assert.is(ready.status, 200, `ready again: ${await ready.text()}`)

    const results = await Promise.all(acked.map((a) => h!.waitBuildset(a.bsid, 60_000)))
    assert.ok(results.every((r) => r === SUCCESS), `every acknowledged buildset succeeded: ${JSON.stringify(results)}`)
    const k = h.master.data.db.k
    const sets = await k.selectFrom('buildsets').select(['bsid', 'reason']).execute()
    const builds = await k.selectFrom('builds as b').innerJoin('buildrequests as r', 'r.buildrequestid', 'b.buildrequestid')
      .select(['r.buildsetid', 'b.results', 'b.state_string']).execute()
    const lost = acked.filter((a) => !sets.some((s) => s.bsid === a.bsid && s.reason.includes(a.reason))).length
    const perSet = new Map<number, number>()
    for (const b of builds) perSet.set(b.buildsetid, (perSet.get(b.buildsetid) ?? 0) + 1)
    const doubled = [...perSet.values()].filter((n) => n > 1).length
    assert.is(lost, 0, 'no acknowledged force lost')
    assert.is(doubled, 0, `no request built twice: ${JSON.stringify(builds)}`)
    assert.is(sets.length, acked.length, 'no buildset beside the acknowledged ones (a refused call stored nothing)')
    assert.ok(builds.every((b) => b.results === SUCCESS), `the build running across the restart finished: ${JSON.stringify(builds)}`)
    const longLog = await (await fetch(`${base}builds/1/steps/stream/logs/stdio/raw`)).text()
    assert.match(longLog, /done/, 'the long build logged to its end')
    const refused = 3 - acked.filter((a) => a.reason.startsWith('during')).length
    console.log(`postgres restarted under a running master: ${acked.length} requests, ${lost} lost, ${doubled} doubled; ${refused} refused with 503 during the restart; the build across it finished`)
    await h.stop()
    h = undefined

    // A server away longer than the wait: a clear "unreachable" error, a 503 over HTTP (REST and
    // JSON-RPC), and the same connection pool works again once the server is back.
    const api = await createHarness({ dbUrl: async () => pg!.url, connect: { unavailableWaitMs: 300 } })
    try {
      await pg.stop()
      const err = await api.db.k.selectFrom('masters').select('masterid').execute().then(() => undefined, (e: unknown) => e)
      assert.instance(err, DatabaseUnavailableError)
      assert.ok(isDatabaseUnavailable(err))
      const rest = await api.server.app.inject({ method: 'GET', url: '/api/v2/builds?limit=1' })
      assert.is(rest.statusCode, 503, rest.body)
      assert.match(rest.body, /database is unreachable/)
      const rpc = await api.server.app.inject({ method: 'POST', url: '/api/v2/forceschedulers/force', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ jsonrpc: '2.0', method: 'force', params: { builderNames: ['b1'] }, id: 1 }) })
      assert.is(rpc.statusCode, 503, rpc.body)
      assert.match(rpc.body, /database is unreachable/)
      await pg.start()
      const again = await api.server.app.inject({ method: 'GET', url: '/api/v2/builds?limit=1' })
      assert.is(again.statusCode, 200, 'the pool connects again')
    } finally {
      await api.close()
    }
  } finally {
    await h?.stop()
    await pg?.destroy()
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
