import { Migrator, OperationNodeTransformer, type Kysely, type KyselyPlugin, type Migration, type PluginTransformQueryArgs,
  type PluginTransformResultArgs, type QueryResult, type ReferenceNode, type RootOperationNode, type TableNode, type Transaction, type UnknownRow } from 'kysely'
import type { Bus, RoutingKey } from '../bus/bus.ts'
import type { Db, Dialect } from './connect.ts'

/** What a plugin migration gets besides the database: the dialect and the column types that differ. */
export interface PluginMigrationContext {
  readonly dialect: Dialect
  /** The plugin's table prefix (`nix_` for the plugin `nix`); every table it creates must start with it. */
  readonly prefix: string
  /** `bigint` on PostgreSQL, `integer` on sqlite (epoch milliseconds, counters). */
  readonly bigint: 'bigint' | 'integer'
  /** `bytea` on PostgreSQL, `blob` on sqlite. */
  readonly blob: 'bytea' | 'blob'
  /** Creates `table` with an auto-increment integer primary key `column` (serial / autoincrement). */
  createTableWithId(table: string, column: string): ReturnType<Kysely<any>['schema']['createTable']>
}

/** One schema step of a plugin; names sort in the order they run (`0001_jobs`, `0002_…`). */
export interface PluginMigration {
  up(db: Kysely<any>, ctx: PluginMigrationContext): Promise<void>
  down?(db: Kysely<any>, ctx: PluginMigrationContext): Promise<void>
}

/** Events collected while a write runs; they are published only once it has committed. */
export interface PendingEvents {
  publish(key: RoutingKey | (string | number)[], message: unknown): void
}

/** A plugin's handle to its own tables (`T` lists them) and the bus. */
export interface PluginStorage<T> {
  /** Queries on the plugin's tables only; naming another table throws before the query runs. */
  readonly db: Kysely<T>
  readonly dialect: Dialect
  readonly prefix: string
  /**
   * Writes in one transaction and publishes the events it collected after the commit (none if it
   * throws): `write(async (trx, events) => { await trx.insertInto(...); events.publish([...], row) })`.
   */
  write<R>(fn: (trx: Transaction<T>, events: PendingEvents) => Promise<R>): Promise<R>
}

/** `nix` → `nix_`, `cache-cachix` → `cache_cachix_`. */
export const tablePrefix = (plugin: string): string => `${plugin.replace(/[^A-Za-z0-9]+/g, '_').toLowerCase()}_`

class TableGuard extends OperationNodeTransformer {
  constructor(private readonly plugin: string, private readonly prefix: string) { super() }
  // Column references name a table or an alias; only the tables a query reads or writes are checked.
  protected override transformReference(node: ReferenceNode): ReferenceNode { return node }
  protected override transformTable(node: TableNode): TableNode {
    const name = node.table.identifier.name
    if (!name.startsWith(this.prefix)) {
      throw new Error(`plugin '${this.plugin}' may only use its own tables (named '${this.prefix}…'), not '${name}'; read core data through rt.data`)
    }
    return node
  }
}

/** Refuses queries and schema changes on tables outside the plugin's namespace. */
function namespaceGuard(plugin: string, prefix: string): KyselyPlugin {
  const guard = new TableGuard(plugin, prefix)
  return {
    transformQuery: (args: PluginTransformQueryArgs): RootOperationNode => guard.transformNode(args.node),
    transformResult: async (args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> => args.result,
  }
}

function migrationContext(dialect: Dialect, prefix: string, k: Kysely<any>): PluginMigrationContext {
  const pg = dialect === 'postgres'
  return {
    dialect, prefix, bigint: pg ? 'bigint' : 'integer', blob: pg ? 'bytea' : 'blob',
    createTableWithId: (table, column) => k.schema.createTable(table)
      .addColumn(column, pg ? 'serial' : 'integer', (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement())),
  }
}

/**
 * Brings a plugin's tables up to date with kysely's Migrator. Each plugin keeps its own record
 * (`kysely_migration_<plugin>`), so plugins migrate independently; a database migrated by a newer
 * version of the plugin (a migration this one does not know) is refused.
 */
export async function migratePlugin(db: Db, plugin: string, migrations: Readonly<Record<string, PluginMigration>>): Promise<string[]> {
  if (!Object.keys(migrations).length) return []
  const prefix = tablePrefix(plugin)
  const guard = namespaceGuard(plugin, prefix)
  const run = (fn: PluginMigration['up']) => (k: Kysely<any>) => {
    const guarded = k.withPlugin(guard)
    return fn(guarded, migrationContext(db.dialect, prefix, guarded))
  }
  const wrapped: Record<string, Migration> = {}
  for (const [name, m] of Object.entries(migrations)) wrapped[name] = { up: run(m.up.bind(m)), ...(m.down ? { down: run(m.down.bind(m)) } : {}) }
  const tag = prefix.slice(0, -1)
  const migrator = new Migrator({
    db: db.k, provider: { getMigrations: async () => wrapped },
    migrationTableName: `kysely_migration_${tag}`, migrationLockTableName: `kysely_migration_lock_${tag}`,
  })
  const { error, results } = await migrator.migrateToLatest()
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName
    const msg = (error as Error).message ?? String(error)
    if (/corrupted migrations/.test(msg)) {
      throw new Error(`the tables of plugin '${plugin}' were migrated by a newer version of it (${msg.replace(/^corrupted migrations: /, '')}); run that version or point 'db' at another database`)
    }
    throw new Error(`plugin '${plugin}': migration ${failed ? `'${failed}' ` : ''}failed: ${msg}`)
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

/** The handle a plugin gets on its runtime. */
export function createPluginStorage<T>(db: Db, bus: Bus, plugin: string): PluginStorage<T> {
  const prefix = tablePrefix(plugin)
  const k = (db.k as unknown as Kysely<T>).withPlugin(namespaceGuard(plugin, prefix))
  return {
    db: k, dialect: db.dialect, prefix,
    async write(fn) {
      const pending: [RoutingKey, unknown][] = []
      const events: PendingEvents = { publish: (key, message) => { pending.push([key.map(String), message]) } }
      const result = await k.transaction().execute((trx) => fn(trx, events))
      for (const [key, message] of pending) bus.publish(key, message)
      return result
    },
  }
}
