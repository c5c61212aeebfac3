import { sql, type Kysely, type CreateTableBuilder } from 'kysely'
import type { Dialect } from './connect.ts'

/**
 * Numbered schema migrations, applied in order at start. A database whose version is newer than
 * the last one here was written by a newer master and is refused.
 */
export interface Migration { version: number; up(db: Kysely<any>, dialect: Dialect): Promise<void> }

function idTable(db: Kysely<any>, dialect: Dialect, table: string, id: string): CreateTableBuilder<string, string> {
  return db.schema.createTable(table).addColumn(id, dialect === 'postgres' ? 'serial' : 'integer', (c) =>
    dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement())
}

const blob = (d: Dialect) => (d === 'postgres' ? 'bytea' : 'blob')
const big = (d: Dialect) => (d === 'postgres' ? 'bigint' : 'integer')

export const migrations: Migration[] = [
  {
    version: 1,
    async up(db, d) {
      await idTable(db, d, 'masters', 'masterid').addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('active', 'integer', (c) => c.notNull()).addColumn('last_active', big(d), (c) => c.notNull()).execute()
      await idTable(db, d, 'workers', 'workerid').addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('info', 'text', (c) => c.notNull().defaultTo('{}')).addColumn('paused', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('pause_reason', 'text').addColumn('graceful', 'integer', (c) => c.notNull().defaultTo(0)).execute()
      await idTable(db, d, 'connected_workers', 'id').addColumn('masterid', 'integer', (c) => c.notNull())
        .addColumn('workerid', 'integer', (c) => c.notNull()).addUniqueConstraint('connected_workers_uq', ['masterid', 'workerid']).execute()
      await idTable(db, d, 'projects', 'projectid').addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('slug', 'text', (c) => c.notNull()).addColumn('description', 'text').addColumn('description_format', 'text')
        .addColumn('description_html', 'text').execute()
      await idTable(db, d, 'builders', 'builderid').addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('description', 'text').addColumn('projectid', 'integer').addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]')).execute()
      await idTable(db, d, 'builder_masters', 'id').addColumn('builderid', 'integer', (c) => c.notNull())
        .addColumn('masterid', 'integer', (c) => c.notNull()).addUniqueConstraint('builder_masters_uq', ['builderid', 'masterid']).execute()
      await idTable(db, d, 'configured_workers', 'id').addColumn('masterid', 'integer', (c) => c.notNull())
        .addColumn('builderid', 'integer', (c) => c.notNull()).addColumn('workerid', 'integer', (c) => c.notNull())
        .addUniqueConstraint('configured_workers_uq', ['masterid', 'builderid', 'workerid']).execute()
      await idTable(db, d, 'sourcestamps', 'ssid').addColumn('ss_hash', 'text', (c) => c.notNull().unique())
        .addColumn('branch', 'text').addColumn('revision', 'text').addColumn('repository', 'text', (c) => c.notNull())
        .addColumn('codebase', 'text', (c) => c.notNull()).addColumn('project', 'text', (c) => c.notNull())
        .addColumn('created_at', big(d), (c) => c.notNull()).addColumn('patch', 'text').execute()
      await idTable(db, d, 'changes', 'changeid').addColumn('author', 'text', (c) => c.notNull()).addColumn('committer', 'text')
        .addColumn('comments', 'text', (c) => c.notNull()).addColumn('branch', 'text').addColumn('revision', 'text')
        .addColumn('revlink', 'text').addColumn('when_timestamp', big(d), (c) => c.notNull()).addColumn('category', 'text')
        .addColumn('repository', 'text', (c) => c.notNull()).addColumn('codebase', 'text', (c) => c.notNull())
        .addColumn('project', 'text', (c) => c.notNull()).addColumn('sourcestampid', 'integer', (c) => c.notNull())
        .addColumn('parent_changeids', 'text', (c) => c.notNull().defaultTo('[]')).addColumn('files', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('properties', 'text', (c) => c.notNull().defaultTo('{}')).execute()
      await idTable(db, d, 'buildsets', 'bsid').addColumn('external_idstring', 'text').addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('submitted_at', big(d), (c) => c.notNull()).addColumn('complete', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('complete_at', big(d)).addColumn('results', 'integer', (c) => c.notNull().defaultTo(-1))
        .addColumn('parent_buildid', 'integer').addColumn('parent_relationship', 'text').addColumn('rebuilt_buildid', 'integer')
        .addColumn('scheduler', 'text').addColumn('properties', 'text', (c) => c.notNull().defaultTo('{}')).execute()
      await idTable(db, d, 'buildset_sourcestamps', 'id').addColumn('buildsetid', 'integer', (c) => c.notNull())
        .addColumn('sourcestampid', 'integer', (c) => c.notNull()).execute()
      await idTable(db, d, 'buildrequests', 'buildrequestid').addColumn('buildsetid', 'integer', (c) => c.notNull())
        .addColumn('builderid', 'integer', (c) => c.notNull()).addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('complete', 'integer', (c) => c.notNull().defaultTo(0)).addColumn('results', 'integer', (c) => c.notNull().defaultTo(-1))
        .addColumn('submitted_at', big(d), (c) => c.notNull()).addColumn('complete_at', big(d))
        .addColumn('waited_for', 'integer', (c) => c.notNull().defaultTo(0)).execute()
      await db.schema.createTable('buildrequest_claims').addColumn('brid', 'integer', (c) => c.primaryKey())
        .addColumn('masterid', 'integer', (c) => c.notNull()).addColumn('claimed_at', big(d), (c) => c.notNull()).execute()
      await idTable(db, d, 'builds', 'buildid').addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('builderid', 'integer', (c) => c.notNull()).addColumn('buildrequestid', 'integer', (c) => c.notNull())
        .addColumn('workerid', 'integer').addColumn('masterid', 'integer', (c) => c.notNull())
        .addColumn('started_at', big(d), (c) => c.notNull()).addColumn('complete_at', big(d))
        .addColumn('state_string', 'text', (c) => c.notNull().defaultTo('')).addColumn('results', 'integer')
        .addColumn('properties', 'text', (c) => c.notNull().defaultTo('{}'))
        .addUniqueConstraint('builds_number_uq', ['builderid', 'number']).execute()
      await idTable(db, d, 'steps', 'stepid').addColumn('number', 'integer', (c) => c.notNull()).addColumn('name', 'text', (c) => c.notNull())
        .addColumn('buildid', 'integer', (c) => c.notNull()).addColumn('started_at', big(d)).addColumn('complete_at', big(d))
        .addColumn('state_string', 'text', (c) => c.notNull().defaultTo('')).addColumn('results', 'integer')
        .addColumn('urls', 'text', (c) => c.notNull().defaultTo('[]')).addColumn('hidden', 'integer', (c) => c.notNull().defaultTo(0))
        .addUniqueConstraint('steps_number_uq', ['buildid', 'number']).execute()
      await idTable(db, d, 'logs', 'logid').addColumn('name', 'text', (c) => c.notNull()).addColumn('slug', 'text', (c) => c.notNull())
        .addColumn('stepid', 'integer', (c) => c.notNull()).addColumn('complete', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('num_lines', 'integer', (c) => c.notNull().defaultTo(0)).addColumn('type', 'text', (c) => c.notNull())
        .addUniqueConstraint('logs_slug_uq', ['stepid', 'slug']).execute()
      await db.schema.createTable('logchunks').addColumn('logid', 'integer', (c) => c.notNull())
        .addColumn('first_line', 'integer', (c) => c.notNull()).addColumn('last_line', 'integer', (c) => c.notNull())
        .addColumn('content', blob(d), (c) => c.notNull()).addColumn('compressed', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('logchunks_pk', ['logid', 'first_line']).execute()
      await idTable(db, d, 'schedulers', 'schedulerid').addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1)).execute()
      await db.schema.createTable('scheduler_masters').addColumn('schedulerid', 'integer', (c) => c.primaryKey())
        .addColumn('masterid', 'integer', (c) => c.notNull()).execute()
      await db.schema.createTable('scheduler_changes').addColumn('schedulerid', 'integer', (c) => c.notNull())
        .addColumn('changeid', 'integer', (c) => c.notNull()).addColumn('important', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('scheduler_changes_pk', ['schedulerid', 'changeid']).execute()
      await idTable(db, d, 'changesources', 'changesourceid').addColumn('name', 'text', (c) => c.notNull().unique()).execute()
      await db.schema.createTable('changesource_masters').addColumn('changesourceid', 'integer', (c) => c.primaryKey())
        .addColumn('masterid', 'integer', (c) => c.notNull()).execute()
      await idTable(db, d, 'objects', 'objectid').addColumn('name', 'text', (c) => c.notNull())
        .addColumn('class_name', 'text', (c) => c.notNull()).addUniqueConstraint('objects_uq', ['name', 'class_name']).execute()
      await db.schema.createTable('object_state').addColumn('objectid', 'integer', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull()).addColumn('value_json', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('object_state_pk', ['objectid', 'name']).execute()
      for (const [name, table, cols] of [
        ['builds_builderid', 'builds', ['builderid']], ['builds_buildrequestid', 'builds', ['buildrequestid']],
        ['builds_complete', 'builds', ['complete_at']], ['builds_workerid', 'builds', ['workerid']],
        ['steps_buildid', 'steps', ['buildid']], ['logs_stepid', 'logs', ['stepid']],
        ['br_buildsetid', 'buildrequests', ['buildsetid']], ['br_builder_complete', 'buildrequests', ['builderid', 'complete']],
        ['br_complete', 'buildrequests', ['complete']], ['bs_parent', 'buildsets', ['parent_buildid']],
        ['bss_buildsetid', 'buildset_sourcestamps', ['buildsetid']], ['changes_ssid', 'changes', ['sourcestampid']],
        ['builders_projectid', 'builders', ['projectid']],
      ] as const) await db.schema.createIndex(name).on(table).columns([...cols]).execute()
    },
  },
  {
    // Trust: whether a buildset's builds may read secrets. Buildsets stored before this were
    // all added by the operator's own schedulers, so they stay trusted; a change is trusted only
    // when the code that added it vouches for it.
    version: 2,
    async up(db) {
      await db.schema.alterTable('buildsets').addColumn('trusted', 'integer', (c) => c.notNull().defaultTo(1)).execute()
      await db.schema.alterTable('changes').addColumn('trusted', 'integer', (c) => c.notNull().defaultTo(0)).execute()
    },
  },
  {
    // Status updates for forges (commit statuses), stored before they are sent: the newest
    // unsent row per (reporter, repository, revision, context) is delivered, after a restart too.
    version: 3,
    async up(db, d) {
      await idTable(db, d, 'status_outbox', 'id').addColumn('reporter', 'text', (c) => c.notNull())
        .addColumn('repository', 'text', (c) => c.notNull()).addColumn('revision', 'text', (c) => c.notNull())
        .addColumn('context', 'text', (c) => c.notNull()).addColumn('state', 'text', (c) => c.notNull())
        .addColumn('description', 'text').addColumn('target_url', 'text').addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('queued_at_ms', big(d), (c) => c.notNull()).addColumn('sent_at_ms', big(d))
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0)).addColumn('next_attempt_ms', big(d), (c) => c.notNull())
        .addColumn('last_error', 'text').addColumn('failed', 'integer', (c) => c.notNull().defaultTo(0)).execute()
      await db.schema.createIndex('status_outbox_key').on('status_outbox').columns(['reporter', 'repository', 'revision', 'context']).execute()
      await db.schema.createIndex('status_outbox_unsent').on('status_outbox').columns(['reporter', 'sent_at_ms', 'failed']).execute()
    },
  },
  {
    // Masters sharing a database each send the statuses they queued (a stopped master's are adopted),
    // so two masters never race to send states of one commit out of order.
    version: 4,
    async up(db) {
      await db.schema.alterTable('status_outbox').addColumn('masterid', 'integer').execute()
    },
  },
  {
    // The project registry: projects a plugin or a forge's discovery registered, with where they
    // live. Rows made only because a builder named the project stay unregistered (registered = 0).
    version: 5,
    async up(db) {
      for (const col of ['forge', 'clone_url', 'default_branch', 'owner', 'web_url', 'source']) await db.schema.alterTable('projects').addColumn(col, 'text').execute()
      await db.schema.alterTable('projects').addColumn('private', 'integer', (c) => c.notNull().defaultTo(0)).execute()
      await db.schema.alterTable('projects').addColumn('branches', 'text', (c) => c.notNull().defaultTo('[]')).execute()
      await db.schema.alterTable('projects').addColumn('poll_interval', 'integer').execute()
      await db.schema.alterTable('projects').addColumn('registered', 'integer', (c) => c.notNull().defaultTo(0)).execute()
    },
  },
  {
    // Events masters sharing a PostgreSQL database send each other (LISTEN/NOTIFY carries them or
    // their ids; a master that lost its connection reads what it missed). Kept minutes, not history.
    version: 6,
    async up(db, d) {
      await db.schema.createTable('bus_events')
        .addColumn('id', d === 'postgres' ? 'bigserial' : 'integer', (c) => (d === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('masterid', 'integer', (c) => c.notNull()).addColumn('key', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull()).addColumn('at_ms', big(d), (c) => c.notNull()).execute()
      await db.schema.createIndex('bus_events_at').on('bus_events').column('at_ms').execute()
    },
  },
  {
    // Changes no running scheduler wanted when they arrived (a webhook for a project whose
    // schedulers were not started yet): a scheduler that starts within minutes takes them, once.
    version: 7,
    async up(db, d) {
      await db.schema.createTable('unclaimed_changes').addColumn('changeid', 'integer', (c) => c.primaryKey())
        .addColumn('at_ms', big(d), (c) => c.notNull()).execute()
      await db.schema.createIndex('unclaimed_changes_at').on('unclaimed_changes').column('at_ms').execute()
    },
  },
  {
    // Webhook delivery ids a change hook handled (GitHub's X-GitHub-Delivery, Gitea's
    // X-Gitea-Delivery), so a redelivery after a restart stores nothing. Kept days, not history.
    version: 8,
    async up(db, d) {
      await db.schema.createTable('change_hook_deliveries').addColumn('hook', 'text', (c) => c.notNull())
        .addColumn('delivery', 'text', (c) => c.notNull()).addColumn('at_ms', big(d), (c) => c.notNull())
        .addPrimaryKeyConstraint('change_hook_deliveries_pk', ['hook', 'delivery']).execute()
      await db.schema.createIndex('change_hook_deliveries_at').on('change_hook_deliveries').column('at_ms').execute()
    },
  },
]

export const LATEST_VERSION = migrations[migrations.length - 1]!.version

export async function migrate(db: Kysely<any>, dialect: Dialect): Promise<{ from: number; to: number }> {
  await db.schema.createTable('schema_version').ifNotExists().addColumn('version', 'integer', (c) => c.notNull()).execute()
  const row = await db.selectFrom('schema_version').select('version').executeTakeFirst()
  const from = row ? Number(row.version) : 0
  if (from > LATEST_VERSION) {
    throw new Error(`the database schema is version ${from}, newer than this master understands (${LATEST_VERSION}); run a newer buildbot-nix or point 'db' at another database`)
  }
  for (const m of migrations) {
    if (m.version <= from) continue
    await db.transaction().execute(async (trx) => {
      await m.up(trx, dialect)
      await trx.deleteFrom('schema_version').execute()
      await trx.insertInto('schema_version').values({ version: m.version }).execute()
    })
  }
  void sql
  return { from, to: LATEST_VERSION }
}
