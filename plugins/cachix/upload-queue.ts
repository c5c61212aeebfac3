import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { Logger } from '../../core/index.ts'
import type { BinaryCache } from './binary-cache.ts'
import type { CacheStorage, UploadState } from './queue-store.ts'

/** Retries of a push that failed: `attempts` tries per path, waiting `initialMs`, doubling up to `maxMs`. */
export interface RetryPolicy { attempts: number; initialMs: number; maxMs: number }

/** A store path to push, with its NAR size (bytes). */
export interface QueueItem { path: string; narSize: number }

/**
 * How one path stands for the build that asked: pushed, already in the cache, failed for good, or
 * still queued when the build stopped waiting (`pending`, with the attempts that failed so far).
 */
export interface PathOutcome { path: string; state: 'pushed' | 'present' | 'failed' | 'pending'; narSize: number; attempts: number; error: string | null }

/** One cache's queue, as the REST endpoint shows it. */
export interface CacheQueueStats {
  cache: string
  label: string
  /** Paths waiting (including those whose retry is due later) and being pushed now. */
  queued: number
  pushing: number
  pushed: number
  present: number
  /** Paths given up on after every retry failed (a later build asking for them queues them again). */
  failed: number
  /** Push commands run since this master started, and those that failed. */
  pushCommands: number
  failedAttempts: number
  lastError: string | null
}

export interface UploadQueue {
  /** Takes back rows a dead master left half-pushed, then pushes what is queued. */
  start(): Promise<void>
  /** Stops pushing; rows being pushed go back to the queue untouched. */
  stop(): Promise<void>
  /**
   * Queues paths for a cache (each path once per cache: already queued, pushed or present rows
   * stay; failed ones are queued again). Resolves with the paths already settled before this call.
   */
  enqueue(cacheId: string, items: QueueItem[]): Promise<Set<string>>
  /**
   * Resolves when every path is pushed, found in the cache, or failed for good, or after
   * `maxWaitMs` with the rest `pending` (the queue keeps pushing them).
   */
  wait(cacheId: string, paths: string[], opts?: { signal?: AbortSignal; maxWaitMs?: number }): Promise<PathOutcome[]>
  stats(): Promise<CacheQueueStats[]>
}

const SETTLED: ReadonlySet<UploadState> = new Set(['pushed', 'present', 'failed'])
const CHUNK = 400

function chunks<T>(xs: T[], n = CHUNK): T[][] {
  const out: T[][] = []
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n))
  return out
}

interface CacheWorker { cache: BinaryCache; running: boolean; again: boolean; lingering?: boolean; timer?: NodeJS.Timeout; pushCommands: number; failedAttempts: number; lastError: string | null; abort?: AbortController }

/**
 * The durable upload queue: one row per (cache, store path) in `binary_caches_queue`. Each cache
 * has one pusher that takes due rows in batches (oldest first), asks the cache which it lacks,
 * pushes those with one command, and retries a failed batch with exponential backoff until the
 * paths' attempts run out. Rows survive a restart; rows a killed master was pushing are queued
 * again when the next one starts.
 */
export function createUploadQueue(opts: { storage: CacheStorage; caches: BinaryCache[]; log: Logger; retry: RetryPolicy; batchSize: number; pushTimeoutMs?: number; lingerMs?: number; now?: () => number }): UploadQueue {
  const { storage, log, retry, batchSize } = opts
  const db = storage.db
  const now = opts.now ?? Date.now
  const lingerMs = opts.lingerMs ?? 50
  const processToken = `${hostname()}:${process.pid}:`
  const token = processToken + randomUUID()
  const workers = new Map<string, CacheWorker>(opts.caches.map((c) => [c.id, { cache: c, running: false, again: false, pushCommands: 0, failedAttempts: 0, lastError: null }]))
  const waiters = new Map<string, Set<(o: PathOutcome) => void>>()
  /** Waits in progress; when this instance stops they follow the rows in the database instead. */
  const pollers = new Set<() => void>()
  let stopped = false
  const key = (cache: string, path: string): string => `${cache}\n${path}`

  const outcomeOf = (r: { path: string; state: string; nar_size: number | string; attempts: number | string; error: string | null }): PathOutcome => ({
    path: r.path, state: r.state as PathOutcome['state'], narSize: Number(r.nar_size), attempts: Number(r.attempts), error: r.error,
  })

  function notify(cache: string, outcomes: PathOutcome[]): void {
    for (const o of outcomes) {
      const set = waiters.get(key(cache, o.path))
      if (!set) continue
      waiters.delete(key(cache, o.path))
      for (const fn of set) fn(o)
    }
  }

  function schedule(w: CacheWorker, at: number): void {
    if (stopped) return
    clearTimeout(w.timer)
    w.timer = setTimeout(() => pump(w), Math.max(0, at - now()))
  }

  /**
   * New rows: an idle pusher starts after `lingerMs`, so the paths of builds finishing together
   * (a matrix's siblings, one output's closure queued path by path) go out in one batch.
   */
  function wake(w: CacheWorker): void {
    if (w.running) { w.again = true; return }
    if (w.lingering) return
    w.lingering = true
    clearTimeout(w.timer)
    w.timer = setTimeout(() => { w.lingering = false; pump(w) }, lingerMs)
  }

  function pump(w: CacheWorker): void {
    if (stopped) return
    if (w.running) { w.again = true; return }
    w.running = true
    const drain = async () => {
      try {
        for (;;) {
          w.again = false
          const more = await pushBatch(w)
          if (stopped) return
          if (!more && !w.again) break
        }
        // Nothing due now: wake up for the earliest retry.
        const next = await db.selectFrom('binary_caches_queue').select((eb) => eb.fn.min('next_at').as('at'))
          .where('cache', '=', w.cache.id).where('state', '=', 'queued').executeTakeFirst()
        if (next?.at != null) schedule(w, Number(next.at))
        else {
          // Rows another instance of this plugin is pushing (a reconfigure): look again soon, they may come back.
          const others = await db.selectFrom('binary_caches_queue').select('id').where('cache', '=', w.cache.id).where('state', '=', 'pushing')
            .where('claimed_by', '!=', token).limit(1).executeTakeFirst()
          if (others) schedule(w, now() + 5000)
        }
      } catch (err) {
        log.error({ cache: w.cache.id, err: (err as Error).message }, 'the upload queue failed; retrying')
        schedule(w, now() + Math.max(retry.initialMs, 1000))
      } finally {
        w.running = false
      }
    }
    void drain().catch((err: unknown) => log.error({ cache: w.cache.id, err: (err as Error).message }, 'the upload queue failed'))
  }

  /** Pushes one batch of due rows; resolves whether a full batch was taken (more may be due). */
  async function pushBatch(w: CacheWorker): Promise<boolean> {
    const cacheId = w.cache.id
    const due = await db.selectFrom('binary_caches_queue').select('id').where('cache', '=', cacheId).where('state', '=', 'queued')
      .where('next_at', '<=', now()).orderBy('id').limit(batchSize).execute()
    if (!due.length) return false
    const ids = due.map((r) => Number(r.id))
    await db.updateTable('binary_caches_queue').set({ state: 'pushing', claimed_by: token }).where('id', 'in', ids).where('state', '=', 'queued').execute()
    const rows = (await db.selectFrom('binary_caches_queue').select(['id', 'path', 'attempts', 'nar_size']).where('id', 'in', ids)
      .where('state', '=', 'pushing').where('claimed_by', '=', token).orderBy('id').execute())
    if (!rows.length) return due.length === batchSize
    const paths = rows.map((r) => r.path)
    const ac = new AbortController()
    w.abort = ac
    // A push that hangs (a stalled upload) is stopped and counts as a failed attempt.
    const timeout = opts.pushTimeoutMs ? setTimeout(() => ac.abort(), opts.pushTimeoutMs) : undefined
    try {
      const missing = w.cache.missing ? new Set(await w.cache.missing(paths, ac.signal)) : new Set(paths)
      const toPush = paths.filter((p) => missing.has(p))
      const present = paths.filter((p) => !missing.has(p))
      if (toPush.length) { w.pushCommands++; await w.cache.push(toPush, ac.signal) }
      const at = now()
      await storage.write(async (trx) => {
        for (const part of chunks(toPush)) await trx.updateTable('binary_caches_queue').set({ state: 'pushed', done_at: at, error: null, claimed_by: null }).where('cache', '=', cacheId).where('path', 'in', part).execute()
        for (const part of chunks(present)) await trx.updateTable('binary_caches_queue').set({ state: 'present', done_at: at, error: null, claimed_by: null }).where('cache', '=', cacheId).where('path', 'in', part).execute()
      })
      const byPath = new Map(rows.map((r) => [r.path, r]))
      notify(cacheId, [
        ...toPush.map((p) => ({ path: p, state: 'pushed' as const, narSize: Number(byPath.get(p)!.nar_size), attempts: Number(byPath.get(p)!.attempts) + 1, error: null })),
        ...present.map((p) => ({ path: p, state: 'present' as const, narSize: Number(byPath.get(p)!.nar_size), attempts: Number(byPath.get(p)!.attempts), error: null })),
      ])
      if (toPush.length) log.info({ cache: cacheId, paths: toPush.length, present: present.length }, 'pushed to a binary cache')
    } catch (err) {
      if (stopped) {
        // Stopping: the rows go back untouched for the next master (or instance) to push.
        await db.updateTable('binary_caches_queue').set({ state: 'queued', claimed_by: null }).where('id', 'in', rows.map((r) => Number(r.id))).where('claimed_by', '=', token).execute()
        return false
      }
      const message = ac.signal.aborted ? `the push to ${w.cache.label} took longer than ${Math.round((opts.pushTimeoutMs ?? 0) / 1000)} s and was stopped` : (err as Error).message
      w.failedAttempts++
      w.lastError = message
      const at = now()
      const settled: PathOutcome[] = []
      await storage.write(async (trx) => {
        for (const r of rows) {
          const attempts = Number(r.attempts) + 1
          const final = attempts >= retry.attempts
          const delay = Math.min(retry.maxMs, retry.initialMs * 2 ** (attempts - 1))
          await trx.updateTable('binary_caches_queue').set({ state: final ? 'failed' : 'queued', attempts, error: message, next_at: at + delay, claimed_by: null, done_at: final ? at : null })
            .where('id', '=', Number(r.id)).execute()
          if (final) settled.push({ path: r.path, state: 'failed', narSize: Number(r.nar_size), attempts, error: message })
        }
      })
      notify(cacheId, settled)
      log.warn({ cache: cacheId, paths: rows.length, err: message }, 'pushing to a binary cache failed')
    } finally {
      clearTimeout(timeout)
      w.abort = undefined
    }
    return due.length === batchSize
  }

  return {
    async start() {
      // Rows another process was pushing when it died; this process's other instances keep theirs.
      await db.updateTable('binary_caches_queue').set({ state: 'queued', claimed_by: null }).where('state', '=', 'pushing')
        .where((eb) => eb.or([eb('claimed_by', 'is', null), eb('claimed_by', 'not like', `${processToken}%`)])).execute()
      for (const w of workers.values()) pump(w)
    },
    async stop() {
      stopped = true
      for (const w of workers.values()) { clearTimeout(w.timer); w.abort?.abort() }
      // Whatever this instance still had claimed goes back to the queue.
      await db.updateTable('binary_caches_queue').set({ state: 'queued', claimed_by: null }).where('claimed_by', '=', token).where('state', '=', 'pushing').execute()
      // Builds still waiting (a reconfigure started another instance that pushes now) follow the rows.
      for (const poll of [...pollers]) poll()
      waiters.clear()
    },
    async enqueue(cacheId, items) {
      const w = workers.get(cacheId)
      if (!w) throw new Error(`no binary cache '${cacheId}'`)
      const unique = [...new Map(items.map((i) => [i.path, i])).values()]
      const settled = new Set<string>()
      const at = now()
      await storage.write(async (trx) => {
        for (const part of chunks(unique, 200)) {
          const existing = await trx.selectFrom('binary_caches_queue').select(['path', 'state']).where('cache', '=', cacheId).where('path', 'in', part.map((i) => i.path)).execute()
          const seen = new Map(existing.map((r) => [r.path, r.state]))
          for (const [p, s] of seen) if (s === 'pushed' || s === 'present') settled.add(p)
          const retryFailed = [...seen].filter(([, s]) => s === 'failed').map(([p]) => p)
          if (retryFailed.length) {
            await trx.updateTable('binary_caches_queue').set({ state: 'queued', attempts: 0, next_at: at, error: null, done_at: null })
              .where('cache', '=', cacheId).where('path', 'in', retryFailed).where('state', '=', 'failed').execute()
          }
          const fresh = part.filter((i) => !seen.has(i.path))
          if (fresh.length) {
            await trx.insertInto('binary_caches_queue').values(fresh.map((i) => ({ cache: cacheId, path: i.path, state: 'queued' as const, attempts: 0, next_at: at, nar_size: i.narSize, error: null, claimed_by: null, queued_at: at, done_at: null })))
              .onConflict((oc) => oc.columns(['cache', 'path']).doNothing()).execute()
          }
        }
      })
      if (settled.size < unique.length) wake(w)
      return settled
    },
    async wait(cacheId, paths, waitOpts = {}) {
      const { signal, maxWaitMs } = waitOpts
      const results = new Map<string, PathOutcome>()
      const want = [...new Set(paths)]
      return new Promise<PathOutcome[]>((resolve, reject) => {
        const registered: [string, (o: PathOutcome) => void][] = []
        let timer: NodeJS.Timeout | undefined
        let giveUp: NodeJS.Timeout | undefined
        const cleanup = (): void => {
          for (const [k, fn] of registered) waiters.get(k)?.delete(fn)
          pollers.delete(poll)
          clearTimeout(timer)
          clearTimeout(giveUp)
          signal?.removeEventListener('abort', onAbort)
        }
        // Waited long enough: the rest stays queued; say where each path stands.
        const stopWaiting = async (): Promise<void> => {
          const rest = want.filter((p) => !results.has(p))
          const rows = new Map<string, PathOutcome>()
          for (const part of chunks(rest)) {
            for (const r of await db.selectFrom('binary_caches_queue').select(['path', 'state', 'nar_size', 'attempts', 'error']).where('cache', '=', cacheId).where('path', 'in', part).execute()) {
              rows.set(r.path, SETTLED.has(r.state) ? outcomeOf(r) : { ...outcomeOf(r), state: 'pending' })
            }
          }
          for (const p of rest) settle(rows.get(p) ?? { path: p, state: 'pending', narSize: 0, attempts: 0, error: null })
        }
        if (maxWaitMs != null) giveUp = setTimeout(() => { stopWaiting().catch((err) => fail(err)) }, maxWaitMs)
        const settle = (o: PathOutcome): void => {
          if (results.has(o.path)) return
          results.set(o.path, o)
          if (results.size === want.length) { cleanup(); resolve(want.map((p) => results.get(p)!)) }
        }
        const readRows = async (): Promise<void> => {
          for (const part of chunks(want.filter((p) => !results.has(p)))) {
            const rows = await db.selectFrom('binary_caches_queue').select(['path', 'state', 'nar_size', 'attempts', 'error']).where('cache', '=', cacheId).where('path', 'in', part).execute()
            for (const r of rows) if (SETTLED.has(r.state)) settle(outcomeOf(r))
          }
        }
        const fail = (err: unknown): void => { cleanup(); reject(err as Error) }
        function poll(): void {
          pollers.delete(poll)
          readRows().then(() => { if (results.size < want.length && !signal?.aborted) timer = setTimeout(poll, 1000) }, fail)
        }
        function onAbort(): void { fail(new Error('stopped while waiting for the upload')) }
        if (signal?.aborted) return onAbort()
        signal?.addEventListener('abort', onAbort, { once: true })
        if (!want.length) return resolve([])
        if (stopped) return poll()
        // Listen first, then read: a row settling in between is not missed.
        for (const p of want) {
          const k = key(cacheId, p)
          const fn = (o: PathOutcome): void => settle(o)
          if (!waiters.has(k)) waiters.set(k, new Set())
          waiters.get(k)!.add(fn)
          registered.push([k, fn])
        }
        pollers.add(poll)
        readRows().catch(fail)
      })
    },
    async stats() {
      const rows = await db.selectFrom('binary_caches_queue').select(['cache', 'state', (eb) => eb.fn.countAll().as('n')]).groupBy(['cache', 'state']).execute()
      return [...workers.values()].map((w) => {
        const n = (s: UploadState): number => Number(rows.find((r) => r.cache === w.cache.id && r.state === s)?.n ?? 0)
        return {
          cache: w.cache.id, label: w.cache.label, queued: n('queued'), pushing: n('pushing'), pushed: n('pushed'), present: n('present'),
          failed: n('failed'), pushCommands: w.pushCommands, failedAttempts: w.failedAttempts, lastError: w.lastError,
        }
      })
    },
  }
}
