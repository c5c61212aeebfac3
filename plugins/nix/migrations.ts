import type { PluginMigration } from '../../core/index.ts'

/**
 * The Nix plugin's tables. `0001_jobs` also adopts databases whose tables an earlier version made
 * by hand (tables and rows kept: everything is created only if missing), then drops that version's
 * own version table.
 */
export const nixMigrations: Record<string, PluginMigration> = {
  '0001_jobs': {
    async up(db, { bigint, createTableWithId }) {
      await createTableWithId('nix_jobs', 'jobid').ifNotExists()
        .addColumn('buildid', 'integer', (c) => c.notNull()).addColumn('attr', 'text', (c) => c.notNull()).addColumn('system', 'text', (c) => c.notNull())
        .addColumn('drv_path', 'text').addColumn('out_path', 'text').addColumn('state', 'text', (c) => c.notNull()).addColumn('results', 'integer')
        .addColumn('reason', 'text').addColumn('child_buildid', 'integer').addColumn('child_builderid', 'integer').addColumn('child_number', 'integer')
        .addColumn('buildrequestid', 'integer').addColumn('queued_at', bigint).addColumn('started_at', bigint).addColumn('complete_at', bigint)
        .addColumn('first_failure_url', 'text').addColumn('eval_key', 'text').addColumn('needed', 'text').addColumn('cache_status', 'text').execute()
      await db.schema.createIndex('nix_jobs_buildid').ifNotExists().on('nix_jobs').column('buildid').execute()
      await db.schema.createIndex('nix_jobs_eval_key').ifNotExists().on('nix_jobs').column('eval_key').execute()
      await db.schema.createTable('nix_failed_builds').ifNotExists().addColumn('drv_path', 'text', (c) => c.primaryKey())
        .addColumn('first_failure_url', 'text', (c) => c.notNull()).addColumn('buildid', 'integer', (c) => c.notNull()).addColumn('failed_at', bigint, (c) => c.notNull()).execute()
      await db.schema.createTable('nix_evals').ifNotExists().addColumn('buildid', 'integer', (c) => c.primaryKey())
        .addColumn('eval_key', 'text', (c) => c.notNull()).addColumn('evaluated_at', bigint, (c) => c.notNull()).execute()
      await db.schema.createIndex('nix_evals_eval_key').ifNotExists().on('nix_evals').column('eval_key').execute()
      await db.schema.dropTable('nix_schema').ifExists().execute()
    },
  },
  '0002_outputs': {
    // Every output of a job (name → store path, JSON), so each gets a GC root.
    async up(db) {
      await db.schema.alterTable('nix_jobs').addColumn('outputs', 'text').execute()
    },
  },
  '0003_out_path_index': {
    // "Already built" attributes find the build that made their output (`nixbuiltby`).
    async up(db) {
      await db.schema.createIndex('nix_jobs_out_path').ifNotExists().on('nix_jobs').column('out_path').execute()
    },
  },
}
