import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectDb, type Db } from '../../core/db/connect.ts'
import { createPluginStorage, migratePlugin } from '../../core/db/plugin-storage.ts'
import { Bus } from '../../core/bus/bus.ts'
import { createKey, definePlugin, type PluginMigration, type Generated } from '../../core/index.ts'
import { testDatabases, type TestDatabase } from '../support/databases.ts'
import { startMaster } from '../support/master-harness.ts'

interface NotesTables { notes_items: { id: Generated<number>; text: string; n: number } }

const notesV1: Record<string, PluginMigration> = {
  '0001_items': {
    async up(db, { createTableWithId }) {
      await createTableWithId('notes_items', 'id').addColumn('text', 'text', (c) => c.notNull()).execute()
    },
  },
}
const notesV2: Record<string, PluginMigration> = {
  ...notesV1,
  '0002_count': { async up(db) { await db.schema.alterTable('notes_items').addColumn('n', 'integer', (c) => c.notNull().defaultTo(0)).execute() } },
}

async function withDb(db: TestDatabase, fn: (d: Db) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bbn-pstore-'))
  const d = await connectDb(await db.url(dir))
  try { await fn(d) } finally { await d.close(); await db.cleanup(); rmSync(dir, { recursive: true, force: true }) }
}

for (const tdb of testDatabases()) {
  test(`[${tdb.name}] plugin migrations run once each, in name order, with the plugin's own record`, () => withDb(tdb, async (db) => {
    assert.equal(await migratePlugin(db, 'notes', notesV1), ['0001_items'])
    assert.equal(await migratePlugin(db, 'notes', notesV1), [])
    assert.equal(await migratePlugin(db, 'notes', notesV2), ['0002_count'])
    const storage = createPluginStorage<NotesTables>(db, new Bus(), 'notes')
    await storage.db.insertInto('notes_items').values({ text: 'a', n: 2 }).execute()
    assert.equal((await storage.db.selectFrom('notes_items').select(['text', 'n']).execute()).map((r) => [r.text, Number(r.n)]), [['a', 2]])
    const done = await (db.k as any).selectFrom('kysely_migration_notes').select('name').orderBy('name').execute()
    assert.equal(done.map((r: { name: string }) => r.name), ['0001_items', '0002_count'])
    // A plugin version that lacks a migration the database has is refused.
    try { await migratePlugin(db, 'notes', notesV1); assert.unreachable('older plugin accepted') } catch (e) {
      assert.match((e as Error).message, /tables of plugin 'notes' were migrated by a newer version of it/)
    }
  }))

  test(`[${tdb.name}] a plugin reaches only tables named after it`, () => withDb(tdb, async (db) => {
    try {
      await migratePlugin(db, 'notes', { '0001_bad': { async up(k) { await k.schema.createTable('items').addColumn('x', 'text').execute() } } })
      assert.unreachable('foreign table created')
    } catch (e) { assert.match((e as Error).message, /plugin 'notes' may only use its own tables \(named 'notes_…'\), not 'items'/) }
    await migratePlugin(db, 'notes', notesV2)
    const storage = createPluginStorage<NotesTables & { builds: { buildid: number } }>(db, new Bus(), 'notes')
    try { await storage.db.selectFrom('builds').select('buildid').execute(); assert.unreachable('core table read') } catch (e) {
      assert.match((e as Error).message, /not 'builds'; read core data through rt.data/)
    }
    // Aliases and qualified columns are fine.
    const rows = await storage.db.selectFrom('notes_items as i').select(['i.text']).where('i.n', '>', 5).execute()
    assert.equal(rows, [])
  }))

  test(`[${tdb.name}] write: rows and their events in one call, events only after the commit`, () => withDb(tdb, async (db) => {
    await migratePlugin(db, 'notes', notesV2)
    const bus = new Bus()
    const storage = createPluginStorage<NotesTables>(db, bus, 'notes')
    const seen: { key: string; visible: number }[] = []
    const checks: Promise<void>[] = []
    bus.subscribe(['notes', null, 'new'], (key, msg) => {
      // When the event arrives the row is already readable by anyone else.
      checks.push(db.k.selectFrom('notes_items' as never).selectAll().where('id' as never, '=', (msg as { id: number }).id as never).execute()
        .then((r) => { seen.push({ key: key.join('/'), visible: r.length }) }))
    })
    const id = await storage.write(async (trx, events) => {
      const row = await trx.insertInto('notes_items').values({ text: 'x', n: 1 }).returning('id').executeTakeFirstOrThrow()
      events.publish(['notes', row.id, 'new'], { id: row.id })
      assert.equal(seen, [], 'published before the commit')
      return row.id
    })
    await Promise.all(checks)
    assert.equal(seen, [{ key: `notes/${id}/new`, visible: 1 }])
    // A write that fails publishes nothing and leaves no row.
    try {
      await storage.write(async (trx, events) => {
        const row = await trx.insertInto('notes_items').values({ text: 'y', n: 1 }).returning('id').executeTakeFirstOrThrow()
        events.publish(['notes', row.id, 'new'], { id: row.id })
        throw new Error('boom')
      })
      assert.unreachable()
    } catch (e) { assert.is((e as Error).message, 'boom') }
    await Promise.all(checks)
    assert.is(seen.length, 1)
    assert.equal((await storage.db.selectFrom('notes_items').select('text').execute()).map((r) => r.text), ['x'])
  }))

  test(`[${tdb.name}] the master runs plugin migrations in dependency order before any plugin starts`, async () => {
    const order: string[] = []
    const BaseKey = createKey<{ tag: string }>('base')
    const mig = (name: string): Record<string, PluginMigration> => ({
      '0001_init': { async up(db, { createTableWithId }) { order.push(`migrate ${name}`); await createTableWithId(`${name}_things`, 'id').addColumn('v', 'text').execute() } },
    })
    const base = definePlugin<{}>({ name: 'base', provides: [BaseKey], setup(api) {
      api.addMigrations(mig('base'))
      api.provide(BaseKey, { tag: 'b' })
      api.onStart(async (rt) => {
        order.push('start base')
        await rt.storage<{ base_things: { id: Generated<number>; v: string | null } }>().db.insertInto('base_things').values({ v: 'hello' }).execute()
      })
    } })
    const child = definePlugin<{}>({ name: 'child', requires: [BaseKey], setup(api) {
      api.addMigrations(mig('child'))
      api.onStart(() => { order.push('start child') })
    } })
    const h = await startMaster(tdb, { plugins: [child({}), base({})] })
    try {
      assert.equal(order, ['migrate base', 'migrate child', 'start base', 'start child'])
      order.length = 0
      await h.master.reconfigure(await h.resolve({ plugins: [child({}), base({})] }))
      assert.equal(order, ['start base', 'start child'], 'migrations ran again')
      // A plugin added by a reconfigure has its tables made before it starts.
      order.length = 0
      const late = definePlugin<{}>({ name: 'late', setup(api) { api.addMigrations(mig('late')); api.onStart(() => { order.push('start late') }) } })
      await h.master.reconfigure(await h.resolve({ plugins: [child({}), base({}), late({})] }))
      assert.equal(order.filter((o) => o.includes('late')), ['migrate late', 'start late'])
    } finally { await h.stop(); await tdb.cleanup() }
  })
}

test.run()
