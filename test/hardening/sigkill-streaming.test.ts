import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { sql } from 'kysely'
import { RETRY, SUCCESS, localWorker, builder, steps, interpolate } from '../../core/index.ts'
import { startChildMaster } from '../support/child-master.ts'
import { connectDb } from '../../core/db/connect.ts'
import { startMaster } from '../support/master-harness.ts'
import type { TestDatabase } from '../support/databases.ts'

const root = resolve(import.meta.dirname, '../..')
const REQUESTS = 8
const sqlite: TestDatabase = { name: 'sqlite', url: async (dir) => `sqlite:${join(dir, 'state.sqlite')}`, cleanup: async () => {} }

test('[sqlite] SIGKILL while two builds stream their logs: after a restart every request completes once, no step runs twice, the database is intact', async () => {
  const basedir = mkdtempSync(join(tmpdir(), 'bbn-sigkill-'))
  const gate = join(basedir, 'gate')
  const pgids = join(basedir, 'pgids')
  const outside = join(basedir, 'outside')
  const dbUrl = `sqlite:${join(basedir, 'state.sqlite')}`
  const masterName = `sigkill-test:${basedir}`
  // Streams a line every 10 ms until the gate opens, then records its request outside the master.
  const stream = `echo $$ >> ${pgids}; i=0; while [ ! -e ${gate} ]; do echo "line $i"; i=$((i+1)); sleep 0.01; done`
  const cfgText = `import { defineMaster, localWorker, builder, steps, interpolate } from ${JSON.stringify(join(root, 'core/index.ts'))}
export default defineMaster({
  basedir: ${JSON.stringify(basedir)}, db: ${JSON.stringify(dbUrl)}, masterName: ${JSON.stringify(masterName)}, logLevel: 'error',
  www: { port: 0 }, collapseRequests: false,
  workers: [localWorker({ name: 'local', maxBuilds: 2 })],
  builders: [builder({ name: 'stream', workers: ['local'], maxBuildsPerWorker: 2, steps: [
    steps.shell({ name: 'stream', command: ['sh', '-c', ${JSON.stringify(stream)}] }),
    steps.shell({ name: 'record', command: ['sh', '-c', interpolate(${JSON.stringify(`echo "%(prop:reason)s" >> ${outside}`)})] }),
  ] })],
})
`
  const configFile = join(basedir, 'master.config.ts')
  writeFileSync(join(basedir, 'package.json'), '{"type":"module"}')
  writeFileSync(configFile, cfgText)
  const child = startChildMaster(configFile, { builder: 'stream', count: REQUESTS })
  try {
    const ready = { brids: (await child.ready).brids ?? [] }
    assert.is(ready.brids.length, REQUESTS)
    // Killed once both running builds have stored log lines (they keep streaming).
    const db0 = await connectDb(dbUrl)
    const streaming = async () => (await db0.k.selectFrom('logchunks as c').innerJoin('logs as l', 'l.logid', 'c.logid').innerJoin('steps as s', 's.stepid', 'l.stepid')
      .select('s.buildid').distinct().execute()).length
    const deadline = Date.now() + 30_000
    while (await streaming() < 2) {
      if (Date.now() > deadline) throw new Error('two builds never streamed')
      await new Promise((r) => setTimeout(r, 20))
    }
    await child.kill()
    const left = await db0.k.selectFrom('builds').select('buildid').where('complete_at', 'is', null).execute()
    const chunksAtKill = Number((await db0.k.selectFrom('logchunks').select(sql<number>`count(*)`.as('n')).executeTakeFirst())!.n)
    await db0.close()
    assert.is(left.length, 2, 'the killed master left two running builds')
    // The orphaned commands (each in its own process group) are not the new master's business.
    for (const pgid of readFileSync(pgids, 'utf8').trim().split('\n').map(Number)) if (pgid > 1) { try { process.kill(-pgid, 'SIGKILL') } catch { /* gone */ } }
    assert.ok(!existsSync(outside), 'nothing was recorded before the kill')

    writeFileSync(gate, '')
    const h = await startMaster(sqlite, {
      masterName, collapseRequests: false, workers: [localWorker({ name: 'local', maxBuilds: 2 })],
      builders: [builder({ name: 'stream', workers: ['local'], maxBuildsPerWorker: 2, steps: [
        steps.shell({ name: 'stream', command: ['sh', '-c', stream] }),
        steps.shell({ name: 'record', command: ['sh', '-c', interpolate(`echo "%(prop:reason)s" >> ${outside}`)] }),
      ] })],
    }, { basedir, dbUrl, keepBasedir: true })
    try {
      const k = h.master.data.db.k
      await h.until(async () => (await k.selectFrom('buildrequests').select('buildrequestid').where('complete', '=', 0).execute()).length === 0, 'every request to complete')
      const brs = await k.selectFrom('buildrequests').selectAll().orderBy('buildrequestid').execute()
      assert.equal(brs.map((b) => b.buildrequestid), ready.brids, 'no request lost')
      assert.ok(brs.every((b) => b.results === SUCCESS), JSON.stringify(brs))
      const builds = await k.selectFrom('builds').select(['buildrequestid', 'results']).orderBy('buildid').execute()
      const successes = new Map<number, number>()
      for (const b of builds) if (b.results === SUCCESS) successes.set(b.buildrequestid, (successes.get(b.buildrequestid) ?? 0) + 1)
      assert.ok(ready.brids.every((id) => successes.get(id) === 1), `each request succeeded exactly once: ${JSON.stringify([...successes])}`)
      assert.is(builds.filter((b) => b.results === RETRY).length, 2, 'the two interrupted builds ended RETRY')
      const lines = readFileSync(outside, 'utf8').trim().split('\n')
      const counts = new Map<string, number>()
      for (const l of lines) counts.set(l, (counts.get(l) ?? 0) + 1)
      assert.is(counts.size, REQUESTS, `every request recorded: ${lines.join(', ')}`)
      assert.ok([...counts.values()].every((n) => n === 1), `no request recorded twice: ${lines.join(', ')}`)
      const open = await k.selectFrom('logs').select('logid').where('complete', '=', 0).execute()
      assert.is(open.length, 0, 'no log left open')
      const integrity = await sql<{ integrity_check: string }>`PRAGMA integrity_check`.execute(k)
      assert.equal(integrity.rows.map((r) => r.integrity_check), ['ok'])
      const lost = REQUESTS - new Set(brs.filter((b) => b.complete).map((b) => b.buildrequestid)).size
      const doubled = [...counts.values()].filter((n) => n > 1).length
      console.log(`sigkill while streaming [sqlite]: ${REQUESTS} requests, ${lost} lost, ${doubled} doubled; ${chunksAtKill} log chunks stored before the kill, 2 builds interrupted; integrity_check ok`)
    } finally {
      await h.stop()
    }
  } finally {
    await child.kill()
    rmSync(basedir, { recursive: true, force: true })
  }
})

test.run()
