import type { PluginStorage } from '../../core/index.ts'

export type JobState = 'pending' | 'building' | 'success' | 'failed' | 'eval-failed' | 'dependency-failed'
  | 'cached-failure' | 'skipped' | 'cancelled' | 'unsupported-system'

/**
 * One attribute of an evaluation. `queued_at`, `started_at` and `complete_at` are stored in
 * milliseconds; `GET /api/v2/builds/<id>/nixjobs` and the events give them in seconds (`publicJob`).
 */
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
  /** JSON of every output (name → store path); null for jobs stored before outputs were kept. */
  outputs: string | null
}

/** The outputs of a stored job: all of them, else its primary out path as `out`. */
export function jobOutputs(j: Pick<StoredJob, 'outputs' | 'out_path'>): Record<string, string> {
  if (j.outputs) {
    const o = JSON.parse(j.outputs) as Record<string, string | null>
    const named = Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => !!e[1]))
    if (Object.keys(named).length) return named
  }
  return j.out_path ? { out: j.out_path } : {}
}

/** The plugin's tables (made by `migrations.ts`). */
export interface NixTables {
  nix_jobs: StoredJob
  nix_failed_builds: { drv_path: string; first_failure_url: string; buildid: number; failed_at: number }
  nix_evals: { buildid: number; eval_key: string; evaluated_at: number }
}

const PUBLIC_FIELDS: (keyof NixJobRow)[] = ['jobid', 'buildid', 'attr', 'system', 'drv_path', 'out_path', 'state', 'results', 'reason',
  'child_buildid', 'child_builderid', 'child_number', 'buildrequestid', 'queued_at', 'started_at', 'complete_at', 'first_failure_url']

const TIME_FIELDS = new Set<keyof NixJobRow>(['queued_at', 'started_at', 'complete_at'])

/**
 * A job as REST and events show it: times in seconds since the epoch like every other resource
 * (stored in milliseconds; the fraction keeps them).
 */
export const publicJob = (j: StoredJob | NixJobRow): NixJobRow => Object.fromEntries(PUBLIC_FIELDS.map((f) => {
  const v = j[f] ?? null
  return [f, v != null && TIME_FIELDS.has(f) ? (v as number) / 1000 : v]
})) as unknown as NixJobRow

/**
 * The `nix_jobs` table (one row per attribute per evaluation) and the failed-build cache. Every
 * write publishes `builds/<evalbuildid>/nixjobs/<jobid>/{new,update}` with the whole job; rows of
 * running evaluations are kept in memory so updates need no read.
 */
export function createJobsStore(storage: PluginStorage<NixTables>) {
  const k = storage.db
  const live = new Map<number, StoredJob>()
  const key = (j: StoredJob, ev: 'new' | 'update') => ['builds', j.buildid, 'nixjobs', j.jobid, ev]
  const norm = (r: StoredJob): StoredJob => {
    for (const f of ['jobid', 'buildid', 'results', 'child_buildid', 'child_builderid', 'child_number', 'buildrequestid', 'queued_at', 'started_at', 'complete_at'] as const) {
      if (r[f] != null) (r as unknown as Record<string, number>)[f] = Number(r[f])
    }
    return r
  }

  type Write = Parameters<typeof storage.write>[0] extends (trx: infer T, events: infer E) => unknown ? [T, E] : never
  const apply = async ([trx, events]: Write, jobid: number, patch: Partial<StoredJob>): Promise<StoredJob | undefined> => {
    await trx.updateTable('nix_jobs').set(patch).where('jobid', '=', jobid).execute()
    let j = live.get(jobid)
    if (j) Object.assign(j, patch)
    else {
      const r = await trx.selectFrom('nix_jobs').selectAll().where('jobid', '=', jobid).executeTakeFirst()
      if (!r) return undefined
      j = norm(r as StoredJob)
    }
    events.publish(key(j, 'update'), publicJob(j))
    return j
  }
  interface Pending { jobid: number; patch: Partial<StoredJob>; resolve(j: StoredJob | undefined): void; reject(e: unknown): void }
  let pending: Pending[] = []
  const flush = async (): Promise<void> => {
    const batch = pending
    pending = []
    try {
      const out = await storage.write(async (trx, events) => {
        const res: (StoredJob | undefined)[] = []
        for (const p of batch) res.push(await apply([trx, events], p.jobid, p.patch))
        return res
      })
      batch.forEach((p, i) => p.resolve(out[i]))
    } catch {
      for (const p of batch) await storage.write((trx, events) => apply([trx, events], p.jobid, p.patch)).then(p.resolve, p.reject)
    }
  }

  return {
    /** Stores the jobs of an evaluation and publishes `…/nixjobs/<jobid>/new` for each once stored. */
    async insert(rows: Omit<StoredJob, 'jobid'>[]): Promise<StoredJob[]> {
      const out = await storage.write(async (trx, events) => {
        const stored: StoredJob[] = []
        for (let i = 0; i < rows.length; i += 100) {
          const chunk = rows.slice(i, i + 100)
          const ids = await trx.insertInto('nix_jobs').values(chunk as StoredJob[]).returning('jobid').execute()
          ids.forEach((r, j) => stored.push({ ...chunk[j]!, jobid: Number(r.jobid) } as StoredJob))
        }
        for (const j of stored) events.publish(key(j, 'new'), publicJob(j))
        return stored
      })
      for (const j of out) live.set(j.jobid, j)
      return out
    },

    /**
     * Changes a job and publishes `…/update`. Updates asked for in the same turn of the event loop
     * (a matrix triggering or finishing many children at once) share one transaction; when it
     * fails, each is tried on its own, so only the failing ones reject.
     */
    update(jobid: number, patch: Partial<StoredJob>): Promise<StoredJob | undefined> {
      return new Promise((resolve, reject) => {
        pending.push({ jobid, patch, resolve, reject })
        if (pending.length === 1) setImmediate(flush)
      })
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
