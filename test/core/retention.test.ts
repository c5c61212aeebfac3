import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SUCCESS, builder, localWorker, steps, defineMaster } from '../../core/index.ts'
import { resolveConfig } from '../../core/config/resolve.ts'
import { ConfigError } from '../../core/config/errors.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb } from '../support/master-harness.ts'

const DAY = 86_400
const BUILDS = 6

test('retention: mistakes name the key path and the fix', async () => {
  try {
    await resolveConfig(defineMaster({ retention: { logs: { olderThanDays: -1, maxTotlMB: 5 }, builds: { olderThanDays: 'a year' }, intervalMinutes: 0 } } as never), '/x/master.config.ts')
    assert.unreachable('accepted')
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e
    const text = e.lines.join('\n')
    assert.match(text, /\/x\/master\.config\.ts: retention\.logs\.olderThanDays: must be more than 0 days/)
    assert.match(text, /retention\.logs: unknown key 'maxTotlMB'|retention\.logs\.maxTotlMB/)
    assert.match(text, /retention\.builds\.olderThanDays: must be a number of days/)
    assert.match(text, /retention\.intervalMinutes: must be more than 0 minutes/)
  }
  const ok = await resolveConfig(defineMaster({ retention: { logs: { maxTotalMB: 0.5 } } }), '/x/master.config.ts')
  assert.equal(ok.retention, { logs: { maxTotalMB: 0.5 } })
})

eachDb(test, 'retention prunes old builds, old logs and logs over the size limit, never unfinished builds; pruned logs answer 404', async (start, db) => {
  const basedir = mkdtempSync(join(tmpdir(), 'bbn-retention-'))
  const dbUrl = await db.url(basedir)
  // ~27 kB of incompressible text per log (base64 of random bytes).
  const cfg = {
    workers: [localWorker({ name: 'local' })], collapseRequests: false,
    builders: [builder({ name: 'b', workers: ['local'], steps: [steps.shell({ name: 'out', command: ['sh', '-c', 'head -c 20000 /dev/urandom | base64'] })] })],
  }
  try {
    const first = await start(cfg, { basedir, dbUrl })
    const sets = await Promise.all(Array.from({ length: BUILDS }, () => first.addBuildset(['b'])))
    for (const s of sets) assert.is(await first.waitBuildset(s.bsid), SUCCESS)
    const k1 = first.master.data.db.k
    const builds = await k1.selectFrom('builds').select('buildid').orderBy('buildid').execute()
    assert.is(builds.length, BUILDS)
    const ids = builds.map((b) => b.buildid)
    const now = Math.floor(Date.now() / 1000)
    // Builds 1-2 finished 400 days ago, 3-4 40 days ago, 5-6 now.
    const age = (buildid: number) => (buildid <= ids[1]! ? 400 : buildid <= ids[3]! ? 40 : 0)
    for (const id of ids) {
      const t = now - age(id) * DAY
      await k1.updateTable('builds').set({ started_at: t - 5, complete_at: t }).where('buildid', '=', id).execute()
      await k1.updateTable('steps').set({ started_at: t - 5, complete_at: t }).where('buildid', '=', id).execute()
    }
    const logOf = async (buildid: number) => (await k1.selectFrom('logs as l').innerJoin('steps as s', 's.stepid', 'l.stepid')
      .select('l.logid').where('s.buildid', '=', buildid).executeTakeFirstOrThrow()).logid
    const logids = await Promise.all(ids.map(logOf))
    await first.stop()

    // The second master prunes at start: builds older than 365 days go, logs older than 30 days lose their contents.
    const h = await start({ ...cfg, retention: { builds: { olderThanDays: 365 }, logs: { olderThanDays: 30 } } }, { basedir, dbUrl })
    const k = h.master.data.db.k
    await h.until(async () => (await k.selectFrom('logs').select('logid').where('type', '=', 'd').execute()).length === 2, 'the start pass to prune')
    const base = `http://127.0.0.1:${h.master.ports.www}/api/v2`
    const status = async (path: string) => (await fetch(base + path)).status
    const remaining = (await k.selectFrom('builds').select('buildid').orderBy('buildid').execute()).map((b) => b.buildid)
    assert.equal(remaining, ids.slice(2), 'builds finished 400 days ago are deleted, the others kept')
    for (const i of [0, 1]) {
      assert.is(await status(`/builds/${ids[i]}`), 404)
      assert.is(await status(`/logs/${logids[i]}`), 404)
      assert.is(await status(`/logs/${logids[i]}/raw`), 404)
    }
    for (const i of [2, 3]) {
      assert.is(await status(`/builds/${ids[i]}`), 200)
      const log = await (await fetch(`${base}/logs/${logids[i]}`)).json() as { logs: { type: string }[] }
      assert.is(log.logs[0]!.type, 'd', 'a pruned log keeps its row, typed d as in Buildbot')
      assert.is(await status(`/logs/${logids[i]}/raw`), 404)
      assert.is(await status(`/logs/${logids[i]}/contents`), 404)
      assert.is(await status(`/builds/${ids[i]}/steps/1/logs/out/raw_inline`), 404)
      assert.is((await k.selectFrom('logchunks').select('logid').where('logid', '=', logids[i]!).execute()).length, 0)
    }
    for (const i of [4, 5]) {
      const raw = await fetch(`${base}/logs/${logids[i]}/raw`)
      assert.is(raw.status, 200)
      assert.ok((await raw.text()).length > 20_000, 'recent logs are kept whole')
    }

    // An unfinished build with an old, complete log is never touched.
    const ancient = now - 1000 * DAY
    const running = await k.insertInto('builds').values({
      number: 99, builderid: h.builderId('b'), buildrequestid: 0, workerid: null, masterid: 424242, started_at: ancient,
      complete_at: null, state_string: 'building', results: null, properties: '{}',
    }).returning('buildid').executeTakeFirstOrThrow()
    const step = await k.insertInto('steps').values({ number: 0, name: 's', buildid: running.buildid, started_at: ancient, complete_at: ancient, state_string: '', results: 0, urls: '[]', hidden: 0 })
      .returning('stepid').executeTakeFirstOrThrow()
    const runningLog = await h.master.data.logs.addLog(step.stepid, 'stdio', 's')
    await h.master.data.logs.appendLog(runningLog.logid, `o${'x'.repeat(100_000)}\n`)
    await h.master.data.logs.finishLog(runningLog.logid)

    // A size limit: the oldest finished logs go until the rest fit (two ~20 kB stored logs against 10 kB; the running build's log is not theirs to drop).
    await h.master.reconfigure(await h.resolve({ ...cfg, retention: { builds: { olderThanDays: 365 }, logs: { olderThanDays: 30, maxTotalMB: 0.01 } } }))
    const stats = await h.master.prune()
    assert.equal({ logs: stats.logs, builds: stats.builds }, { logs: 2, builds: 0 })
    const kept = await k.selectFrom('logs').select(['logid', 'type']).orderBy('logid').execute()
    assert.equal(kept.filter((l) => l.type !== 'd').map((l) => l.logid), [runningLog.logid], 'only the unfinished build keeps its log')
    assert.ok(await k.selectFrom('builds').select('buildid').where('buildid', '=', running.buildid).executeTakeFirst(), 'the unfinished build is kept')
    assert.is(await status(`/logs/${runningLog.logid}/raw`), 200)
    assert.is(await status(`/logs/${logids[5]}/raw`), 404)
    // A second pass has nothing left to do.
    assert.equal(await h.master.prune(), { logs: 0, logchunks: 0, builds: 0, steps: 0 })
    console.log(`retention [${db.name}]: ${BUILDS} builds; ${ids.length - remaining.length} deleted by age, 2 logs emptied by age, ${stats.logs} by size, 1 unfinished build kept, ${BUILDS * 5 + 6} REST answers checked`)
  } finally {
    rmSync(basedir, { recursive: true, force: true })
  }
}, testDatabases())

test.run()
