import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { haveTool } from '../support/tools.ts'
import { eachDb, type MasterHarness } from '../support/master-harness.ts'
import { testDatabases } from '../support/databases.ts'
import { makeFlakeRepo } from '../fixtures/nix/make-flake.ts'
import { localWorker, EXCEPTION, FAILURE, type MasterConfig } from '../../core/index.ts'
import { nix } from '../../plugins/nix/index.ts'

const hasNix = haveTool('nix', 'apt-get install -y nix-bin')
const maybe = hasNix ? test : test.skip
const tmp = mkdtempSync(join(tmpdir(), 'nix-matrix-fail-'))
const dbs = testDatabases()

const config = (repo: string): MasterConfig => ({
  workers: [localWorker({ name: 'local', maxBuilds: 4 })],
  plugins: [nix({ projects: [{ name: 'acme/mf', url: repo }], workers: ['local'], buildSystems: ['x86_64-linux'], evalWorkerCount: 1 })],
})

/** Makes the database refuse writes of `nix_jobs` rows matching `when` (a real failed write). */
async function refuse(h: MasterHarness, db: string, op: 'INSERT' | 'UPDATE', when: string) {
  const k = h.master.data.db.k
  if (db === 'sqlite') {
    await sql.raw(`CREATE TRIGGER refuse_jobs BEFORE ${op} ON nix_jobs WHEN ${when} BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`).execute(k)
  } else {
    await sql.raw(`CREATE FUNCTION refuse_jobs() RETURNS trigger AS $$ BEGIN IF ${when} THEN RAISE EXCEPTION 'disk I/O error'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`).execute(k)
    await sql.raw(`CREATE TRIGGER refuse_jobs BEFORE ${op} ON nix_jobs FOR EACH ROW EXECUTE FUNCTION refuse_jobs()`).execute(k)
  }
}

async function evalBuild(h: MasterHarness) {
  const k = h.master.data.db.k
  const b = await k.selectFrom('builds').select(['buildid', 'results']).where('builderid', '=', h.builderId('acme/mf/nix-eval')).orderBy('buildid', 'desc').executeTakeFirstOrThrow()
  const steps = await k.selectFrom('steps').select(['name', 'results', 'state_string']).where('buildid', '=', b.buildid).orderBy('number').execute()
  return { ...b, steps: new Map(steps.map((s) => [s.name, s])) }
}

eachDb(maybe, 'jobs the database refuses to store fail the evaluation, saying why; it is not remembered for reuse', async (start, db) => {
  const repo = join(tmp, `insert-${db.name}`)
  makeFlakeRepo(repo, { checks: { refused: {} } })
  const h = await start(config(repo))
  await refuse(h, db.name, 'INSERT', `NEW.attr LIKE '%refused%'`)
  const { bsid } = await h.force('acme-mf-force')
  assert.is(await h.waitBuildset(bsid, 60_000), EXCEPTION)
  const b = await evalBuild(h)
  assert.is(b.steps.get('evaluate_flake')?.results, FAILURE)
  assert.match(b.steps.get('evaluate_flake')!.state_string, /storing the evaluation failed: .*disk I\/O error/)
  assert.is(b.steps.get('build_flake')?.results, EXCEPTION)
  const evals = await h.master.data.db.k.selectFrom('nix_evals' as never).selectAll().execute()
  assert.is(evals.length, 0)
}, dbs)

eachDb(maybe, 'a child result the database refuses to record ends the matrix in EXCEPTION instead of waiting forever', async (start, db) => {
  const repo = join(tmp, `complete-${db.name}`)
  makeFlakeRepo(repo, { checks: { first: {}, after: { deps: ['first'] } } })
  const h = await start(config(repo))
  await refuse(h, db.name, 'UPDATE', `NEW.attr LIKE '%first' AND NEW.state = 'success'`)
  const { bsid } = await h.force('acme-mf-force')
  assert.is(await h.waitBuildset(bsid, 60_000), EXCEPTION)
  const b = await evalBuild(h)
  assert.is(b.steps.get('build_flake')?.results, EXCEPTION)
  assert.match(b.steps.get('build_flake')!.state_string, /the build matrix failed: .*disk I\/O error/)
  const open = await h.master.data.db.k.selectFrom('buildrequests').select('buildrequestid').where('complete', '=', 0).execute()
  assert.is(open.length, 0)
}, dbs)

test.run()
