import type { Kysely } from 'kysely'
import type { Bus, Data } from '../../core/index.ts'

export type JobState = 'pending' | 'building' | 'success' | 'failed' | 'eval-failed' | 'dependency-failed'
  | 'cached-failure' | 'skipped' | 'cancelled' | 'unsupported-system'

/** One attribute of an evaluation, as `GET /api/v2/builds/<id>/nixjobs` returns it. */
export interface NixJobRow {
  jobid: number
  buildid: number
  attr: string
  system: string
  drv_path: string | null
  out_path: string | null
  state: JobState
  results: number | null
  reason: string | null
  child_buildid: number | null
  child_builderid: number | null
  child_number: number | null
  buildrequestid: number | null
  queued_at: number | null
  started_at: number | null
  complete_at: number | null
  first_failure_url: string | null
}

/** What is stored beside the public fields, to reuse an evaluation later. */
export interface StoredJob extends NixJobRow {
  eval_key: string | null
  /** JSON list of in-closure derivations still to build when evaluated. */
  needed: string | null
  cache_status: string | null
}

interface Tables {
  nix_jobs: StoredJob
  nix_schema: { name: string; version: number }
  nix_failed_builds: { drv_path: string; first_failure_url: string; buildid: number; failed_at: number }
  nix_evals: { buildid: number; eval_key: string; evaluated_at: number }
}

const SCHEMA_VERSION = 1
const PUBLIC_FIELDS: (keyof NixJobRow)[] = ['jobid', 'buildid', 'attr', 'system', 'drv_path', 'out_path', 'state', 'results', 'reason',
  'child_buildid', 'child_builderid', 'child_number', 'buildrequestid', 'queued_at', 'started_at', 'complete_at', 'first_failure_url']

export const publicJob = (j: StoredJob | NixJobRow): NixJobRow => Object.fromEntries(PUBLIC_FIELDS.map((f) => [f, j[f] ?? null])) as unknown as NixJobRow

/**
 * The `nix_jobs` table (one row per attribute per evaluation) and the failed-build cache. Every
 * write publishes `builds/<evalbuildid>/nixjobs/<jobid>/{new,update}` with the whole job; rows of
 * running evaluations are kept in memory so updates need no read.
 */
export function createJobsStore(data: Data, bus: Bus) {
  const k = data.db.k as unknown as Kysely<Tables>
  const pg = data.db.dialect === 'postgres'
  const live = new Map<number, StoredJob>()
  const publish = (j: StoredJob, ev: 'new' | 'update'): void => bus.publish(['builds', String(j.buildid), 'nixjobs', String(j.jobid), ev], publicJob(j))
  const norm = (r: StoredJob): StoredJob => {
    for (const f of ['jobid', 'buildid', 'results', 'child_buildid', 'child_builderid', 'child_number', 'buildrequestid', 'queued_at', 'started_at', 'complete_at'] as const) {
      if (r[f] != null) (r as unknown as Record<string, number>)[f] = Number(r[f])
    }
    return r
  }

  return {
    /** Creates the tables on first start (sqlite and PostgreSQL). */
    async ensureSchema(): Promise<void> {
      const big = pg ? 'bigint' : 'integer'
      await k.schema.createTable('nix_schema').ifNotExists().addColumn('name', 'text', (c) => c.primaryKey()).addColumn('version', 'integer', (c) => c.notNull()).execute()
      const row = await k.selectFrom('nix_schema').select('version').where('name', '=', 'nix').executeTakeFirst()
      if (row && row.version > SCHEMA_VERSION) throw new Error(`the nix tables are at schema version ${row.version}, newer than this master (${SCHEMA_VERSION}); upgrade the master`)
      await k.schema.createTable('nix_jobs').ifNotExists()
        .addColumn('jobid', pg ? 'serial' : 'integer', (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('buildid', 'integer', (c) => c.notNull()).addColumn('attr', 'text', (c) => c.notNull()).addColumn('system', 'text', (c) => c.notNull())
        .addColumn('drv_path', 'text').addColumn('out_path', 'text').addColumn('state', 'text', (c) => c.notNull()).addColumn('results', 'integer')
        .addColumn('reason', 'text').addColumn('child_buildid', 'integer').addColumn('child_builderid', 'integer').addColumn('child_number', 'integer')
        .addColumn('buildrequestid', 'integer').addColumn('queued_at', big).addColumn('started_at', big).addColumn('complete_at', big)
        .addColumn('first_failure_url', 'text').addColumn('eval_key', 'text').addColumn('needed', 'text').addColumn('cache_status', 'text').execute()
      await k.schema.createIndex('nix_jobs_buildid').ifNotExists().on('nix_jobs').column('buildid').execute()
      await k.schema.createIndex('nix_jobs_eval_key').ifNotExists().on('nix_jobs').column('eval_key').execute()
      await k.schema.createTable('nix_failed_builds').ifNotExists().addColumn('drv_path', 'text', (c) => c.primaryKey())
        .addColumn('first_failure_url', 'text', (c) => c.notNull()).addColumn('buildid', 'integer', (c) => c.notNull()).addColumn('failed_at', big, (c) => c.notNull()).execute()
      await k.schema.createTable('nix_evals').ifNotExists().addColumn('buildid', 'integer', (c) => c.primaryKey())
        .addColumn('eval_key', 'text', (c) => c.notNull()).addColumn('evaluated_at', big, (c) => c.notNull()).execute()
      await k.schema.createIndex('nix_evals_eval_key').ifNotExists().on('nix_evals').column('eval_key').execute()
      if (!row) await k.insertInto('nix_schema').values({ name: 'nix', version: SCHEMA_VERSION }).execute()
    },

    async insert(rows: Omit<StoredJob, 'jobid'>[]): Promise<StoredJob[]> {
      const out: StoredJob[] = []
      for (let i = 0; i < rows.length; i += 100) {
        const chunk = rows.slice(i, i + 100)
        const ids = await k.insertInto('nix_jobs').values(chunk as StoredJob[]).returning('jobid').execute()
        ids.forEach((r, j) => out.push({ ...chunk[j]!, jobid: Number(r.jobid) } as StoredJob))
      }
      for (const j of out) { live.set(j.jobid, j); publish(j, 'new') }
      return out
    },

    async update(jobid: number, patch: Partial<StoredJob>): Promise<StoredJob | undefined> {
      await k.updateTable('nix_jobs').set(patch).where('jobid', '=', jobid).execute()
      let j = live.get(jobid)
      if (j) Object.assign(j, patch)
      else {
        const r = await k.selectFrom('nix_jobs').selectAll().where('jobid', '=', jobid).executeTakeFirst()
        if (!r) return undefined
        j = norm(r as StoredJob)
      }
      publish(j, 'update')
      return j
    },

    get(jobid: number): StoredJob | undefined { return live.get(jobid) },

    /** Forgets the in-memory rows of a finished evaluation. */
    release(buildid: number): void { for (const [id, j] of live) if (j.buildid === buildid) live.delete(id) },

    async list(buildid: number): Promise<StoredJob[]> {
      const rows = await k.selectFrom('nix_jobs').selectAll().where('buildid', '=', buildid).orderBy('jobid').execute()
      return rows.map((r) => norm(r as StoredJob))
    },

    /** Marks the evaluation of `buildid` complete: its rows hold every job, so it may be reused. */
    async recordEval(buildid: number, evalKey: string): Promise<void> {
      await k.insertInto('nix_evals').values({ buildid, eval_key: evalKey, evaluated_at: Date.now() }).execute()
    },

    /** The jobs of the newest complete earlier evaluation with this key (same tree, lock file, attribute). */
    async latestWithKey(evalKey: string, exceptBuildid: number): Promise<StoredJob[]> {
      const last = await k.selectFrom('nix_evals').select('buildid').where('eval_key', '=', evalKey).where('buildid', '!=', exceptBuildid)
        .orderBy('buildid', 'desc').limit(1).executeTakeFirst()
      return last ? this.list(Number(last.buildid)) : []
    },

    async failedBuild(drvPath: string): Promise<{ first_failure_url: string } | undefined> {
      return k.selectFrom('nix_failed_builds').select('first_failure_url').where('drv_path', '=', drvPath).executeTakeFirst()
    },

    async forgetFailedBuild(drvPath: string): Promise<void> {
      await k.deleteFrom('nix_failed_builds').where('drv_path', '=', drvPath).execute()
    },

    async recordFailedBuild(drvPath: string, url: string, buildid: number): Promise<void> {
      const exists = await this.failedBuild(drvPath)
      if (exists) return
      await k.insertInto('nix_failed_builds').values({ drv_path: drvPath, first_failure_url: url, buildid, failed_at: Date.now() }).execute()
    },
  }
}

export type JobsStore = ReturnType<typeof createJobsStore>
