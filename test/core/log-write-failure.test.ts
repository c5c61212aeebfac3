import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { sql } from 'kysely'
import { localWorker, builder, steps, schedulers, EXCEPTION, SUCCESS } from '../../core/index.ts'
import { testDatabases } from '../support/databases.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'

/** Makes the database refuse to store any log chunk holding `marker` (a real failed write). */
async function refuseChunksWith(h: MasterHarness, db: string, marker: string) {
  const k = h.master.data.db.k
  if (db === 'sqlite') {
    await sql.raw(`CREATE TRIGGER refuse_chunks BEFORE INSERT ON logchunks WHEN instr(CAST(NEW.content AS TEXT), '${marker}') > 0 BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`).execute(k)
  } else {
    await sql.raw(`CREATE FUNCTION refuse_chunks() RETURNS trigger AS $$ BEGIN IF position('${marker}'::bytea in NEW.content) > 0 THEN RAISE EXCEPTION 'disk I/O error'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`).execute(k)
    await sql.raw('CREATE TRIGGER refuse_chunks BEFORE INSERT ON logchunks FOR EACH ROW EXECUTE FUNCTION refuse_chunks()').execute(k)
  }
}

eachDb(test, 'a log write that fails ends the step and the build in EXCEPTION, saying why; other logs still complete', async (start, db) => {
  const h = await start({
    workers: [localWorker({ name: 'local' })],
    builders: [builder({ name: 'b', workers: ['local'], steps: [
      steps.shell({ name: 'fine', command: ['echo', 'all good'] }),
      steps.shell({ name: 'lossy', command: ['echo', 'LOSTLINE'] }),
      steps.shell({ name: 'after', command: ['true'] }),
    ] })],
    schedulers: [schedulers.force({ name: 'force', builderNames: ['b'] })],
  })
  await refuseChunksWith(h, db.name, 'LOSTLINE')
  const made = h.waitFor<{ buildid: number }>('builds/*/new')
  const { bsid } = await h.force('force')
  const { buildid } = await made
  assert.is(await h.waitBuildset(bsid), EXCEPTION)
  const k = h.master.data.db.k
  const rows = await k.selectFrom('steps').selectAll().where('buildid', '=', buildid).orderBy('number').execute()
  assert.equal(rows.map((r) => [r.name, r.results]), [['fine', SUCCESS], ['lossy', EXCEPTION]])
  assert.match(rows[1]!.state_string, /writing log \d+ failed: .*disk I\/O error/)
  assert.is((await h.master.data.builds.getBuild(buildid))!.results, EXCEPTION)
  const logs = await k.selectFrom('logs').selectAll().execute()
  assert.ok(logs.length >= 2 && logs.every((l) => Number(l.complete) === 1), 'every log is completed')
}, testDatabases())

test.run()
