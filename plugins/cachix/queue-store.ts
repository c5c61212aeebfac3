import type { Generated, PluginMigration, PluginStorage } from '../../core/index.ts'

/** Where a store path stands in one cache's upload queue. */
export type UploadState = 'queued' | 'pushing' | 'pushed' | 'present' | 'failed'

/** The plugin's tables (prefix `binary_caches_`). */
export interface CacheTables {
  binary_caches_queue: {
    id: Generated<number>
    /** The cache's id (`cachix:<name>`, `nix:<url>`, …). */
    cache: string
    path: string
    state: UploadState
    attempts: number
    /** Epoch ms before which the row is not tried again. */
    next_at: number
    nar_size: number
    error: string | null
    /** The queue instance pushing it now (`<host>:<pid>:<uuid>`). */
    claimed_by: string | null
    queued_at: number
    done_at: number | null
  }
}

export const cacheMigrations: Record<string, PluginMigration> = {
  '0001_queue': {
    async up(db, { bigint, createTableWithId }) {
      await createTableWithId('binary_caches_queue', 'id')
        .addColumn('cache', 'text', (c) => c.notNull()).addColumn('path', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull()).addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_at', bigint, (c) => c.notNull()).addColumn('nar_size', bigint, (c) => c.notNull().defaultTo(0))
        .addColumn('error', 'text').addColumn('claimed_by', 'text')
        .addColumn('queued_at', bigint, (c) => c.notNull()).addColumn('done_at', bigint).execute()
      await db.schema.createIndex('binary_caches_queue_cache_path').on('binary_caches_queue').columns(['cache', 'path']).unique().execute()
      await db.schema.createIndex('binary_caches_queue_state').on('binary_caches_queue').columns(['cache', 'state', 'next_at']).execute()
    },
  },
}

export type CacheStorage = PluginStorage<CacheTables>
