import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kysely } from 'kysely'
import { connectDb } from '../../core/db/connect.ts'
import { localWorker } from '../../core/index.ts'
import { nix } from '../../plugins/nix/index.ts'
import { testDatabases } from '../support/databases.ts'
import { startMaster } from '../support/master-harness.ts'

/** The tables as the plugin made them by hand before it had migrations (schema version 1). */
async function createOldNixTables(k: Kysely<any>, pg: boolean): Promise<void> {
  const big = pg ? 'bigint' : 'integer'
  await k.schema.createTable('nix_schema').addColumn('name', 'text', (c) => c.primaryKey()).addColumn('version', 'integer', (c) => c.notNull()).execute()
  await k.schema.createTable('nix_jobs')
    .addColumn('jobid', pg ? 'serial' : 'integer', (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('buildid', 'integer', (c) => c.notNull()).addColumn('attr', 'text', (c) => c.notNull()).addColumn('system', 'text', (c) => c.notNull())
    .addColumn('drv_path', 'text').addColumn('out_path', 'text').addColumn('state', 'text', (c) => c.notNull()).addColumn('results', 'integer')
    .addColumn('reason', 'text').addColumn('child_buildid', 'integer').addColumn('child_builderid', 'integer').addColumn('child_number', 'integer')
    .addColumn('buildrequestid', 'integer').addColumn('queued_at', big).addColumn('started_at', big).addColumn('complete_at', big)
    .addColumn('first_failure_url', 'text').addColumn('eval_key', 'text').addColumn('needed', 'text').addColumn('cache_status', 'text').execute()
  await k.schema.createIndex('nix_jobs_buildid').on('nix_jobs').column('buildid').execute()
  await k.schema.createIndex('nix_jobs_eval_key').on('nix_jobs').column('eval_key').execute()
  await k.schema.createTable('nix_failed_builds').addColumn('drv_path', 'text', (c) => c.primaryKey())
    .addColumn('first_failure_url', 'text', (c) => c.notNull()).addColumn('buildid', 'integer', (c) => c.notNull()).addColumn('failed_at', big, (c) => c.notNull()).execute()
  await k.schema.createTable('nix_evals').addColumn('buildid', 'integer', (c) => c.primaryKey())
    .addColumn('eval_key', 'text', (c) => c.notNull()).addColumn('evaluated_at', big, (c) => c.notNull()).execute()
  await k.schema.createIndex('nix_evals_eval_key').on('nix_evals').column('eval_key').execute()
  await k.insertInto('nix_schema').values({ name: 'nix', version: 1 }).execute()
}

for (const tdb of testDatabases()) {
  test(`[${tdb.name}] a database whose nix tables were made before migrations is adopted with its rows`, async () => {
    const basedir = mkdtempSync(join(tmpdir(), 'bbn-nix-adopt-'))
    const dbUrl = await tdb.url(basedir)
    const old = await connectDb(dbUrl, { baseDir: basedir })
    await createOldNixTables(old.k, old.dialect === 'postgres')
    await old.k.insertInto('nix_jobs' as never).values({ buildid: 7, attr: 'checks.x86_64-linux.a', system: 'x86_64-linux', state: 'success', results: 0, eval_key: 'k1' } as never).execute()
    await old.k.insertInto('nix_evals' as never).values({ buildid: 7, eval_key: 'k1', evaluated_at: 1 } as never).execute()
    await old.k.insertInto('nix_failed_builds' as never).values({ drv_path: '/nix/store/x.drv', first_failure_url: 'http://ci/#/builders/1/builds/1', buildid: 3, failed_at: 1 } as never).execute()
    await old.close()

    const h = await startMaster(tdb, { workers: [localWorker({ name: 'local' })], plugins: [nix({ workers: ['local'], projects: [] })] }, { basedir, dbUrl })
    try {
      const k = h.master.data.db.k as unknown as Kysely<any>
      const jobs = await k.selectFrom('nix_jobs').select(['jobid', 'buildid', 'attr', 'state']).execute()
      assert.equal(jobs.map((j) => [Number(j.jobid), Number(j.buildid), j.attr, j.state]), [[1, 7, 'checks.x86_64-linux.a', 'success']])
      assert.is((await k.selectFrom('nix_evals').selectAll().execute()).length, 1)
      assert.is((await k.selectFrom('nix_failed_builds').select('first_failure_url').executeTakeFirstOrThrow()).first_failure_url, 'http://ci/#/builders/1/builds/1')
      const done = await k.selectFrom('kysely_migration_nix').select('name').execute()
      assert.equal(done.map((r) => r.name), ['0001_jobs', '0002_outputs', '0003_out_path_index'])
      const tables = (await k.introspection.getTables()).map((t) => t.name)
      assert.not.ok(tables.includes('nix_schema'), 'the hand-made version table is gone')
      // The stored evaluation is served as before, and new jobs get the next ids.
      const res = await fetch(`http://127.0.0.1:${h.master.ports.www}/api/v2/builds/7/nixjobs`)
      const body = await res.json() as { nixjobs: { jobid: number; attr: string }[] }
      assert.equal(body.nixjobs.map((j) => [j.jobid, j.attr]), [[1, 'checks.x86_64-linux.a']])
      await k.insertInto('nix_jobs').values({ buildid: 8, attr: 'b', system: 'x86_64-linux', state: 'pending' }).execute()
      assert.equal((await k.selectFrom('nix_jobs').select('jobid').orderBy('jobid').execute()).map((r) => Number(r.jobid)), [1, 2])
    } finally {
      await h.stop()
      await tdb.cleanup()
      rmSync(basedir, { recursive: true, force: true })
    }
  })
}

test.run()
