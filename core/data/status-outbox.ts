import type { Selectable } from 'kysely'
import type { StatusOutboxTable } from '../db/schema.ts'
import type { DataContext } from './context.ts'
import { parseJson } from './context.ts'

/** A commit status as forges know it (GitHub's and Gitea's states). */
export type StatusState = 'pending' | 'success' | 'failure' | 'error'

/** One status of one commit; (repository, revision, context) identifies what it replaces. */
export interface StatusUpdate {
  /** The repository the commit belongs to (clone URL or `owner/repo`; the sender maps it to its API). */
  repository: string
  /** The commit the status is about. */
  revision: string
  /** The check's name on the commit, e.g. `buildbot/nix-build`. */
  context: string
  state: StatusState
  description?: string
  /** Where the status links to (a build page). */
  targetUrl?: string
  /** Anything else a sender needs (project name, build id, ...): plain JSON, stored with the row. */
  extra?: Record<string, unknown>
}

/** A stored update as a sender gets it. */
export interface QueuedStatus extends StatusUpdate {
  id: number
  reporter: string
  /** Failed attempts so far. */
  attempts: number
  queuedAtMs: number
  sentAtMs: number | null
  /** Not sent before this time (backoff, or the target asked to wait). */
  nextAttemptMs: number
  lastError: string | null
  /** Given up (a permanent error, or too many attempts). */
  failed: boolean
}

export const statusKey = (u: { repository: string; revision: string; context: string }): string =>
  JSON.stringify([u.repository, u.revision, u.context])

const toQueued = (r: Selectable<StatusOutboxTable>): QueuedStatus => ({
  id: r.id, reporter: r.reporter, repository: r.repository, revision: r.revision, context: r.context,
  state: r.state as StatusState, description: r.description ?? undefined, targetUrl: r.target_url ?? undefined,
  extra: parseJson<Record<string, unknown>>(r.extra, {}), attempts: r.attempts, queuedAtMs: Number(r.queued_at_ms),
  sentAtMs: r.sent_at_ms == null ? null : Number(r.sent_at_ms), nextAttemptMs: Number(r.next_attempt_ms),
  lastError: r.last_error, failed: !!r.failed,
})

/**
 * The status outbox: status updates are stored here before a reporter sends them. Queueing a
 * status drops the unsent ones it replaces (same reporter, repository, revision and context), so
 * only the newest state of each is sent; the last sent row of each is kept, so a reporter can
 * tell which statuses it has set on a commit. Publishes `statuses/<reporter>/{queued,sent,failed}`.
 */
export function createStatusOutboxData(ctx: DataContext) {
  const { db, bus } = ctx
  const k = db.k
  const nowMs = (): number => Date.now()
  const keyWhere = <Q extends { where: (...a: any[]) => Q }>(q: Q, reporter: string, u: { repository: string; revision: string; context: string }): Q =>
    q.where('reporter', '=', reporter).where('repository', '=', u.repository).where('revision', '=', u.revision).where('context', '=', u.context)
  const publish = (reporter: string, event: string, row: QueuedStatus | { id: number }): void => bus.publish(['statuses', reporter, event], row)
  /** Unsent rows this master should send: its own, and those of masters no longer active. */
  const mine = (reporter: string) => k.selectFrom('status_outbox').where('reporter', '=', reporter).where('sent_at_ms', 'is', null).where('failed', '=', 0)
    .where((eb) => eb.or([eb('masterid', 'is', null), eb('masterid', '=', ctx.masterid()), eb('masterid', 'in', eb.selectFrom('masters').select('masterid').where('active', '=', 0))]))

  return {
    /**
     * Stores an update for `reporter`, replacing its unsent updates of the same key. With
     * `onlyIfReported`, only when a status of that key was queued before (e.g. a success that
     * turns an earlier failure green). An update equal to the last one sent, with nothing newer
     * queued, is not stored again. Resolves with the stored row, or undefined when nothing was stored.
     */
    async queue(reporter: string, u: StatusUpdate, opts: { onlyIfReported?: boolean } = {}): Promise<QueuedStatus | undefined> {
      const stored = await k.transaction().execute(async (trx) => {
        const existing = await keyWhere(trx.selectFrom('status_outbox').selectAll(), reporter, u).orderBy('id', 'desc').execute()
        if (opts.onlyIfReported && !existing.length) return undefined
        const newest = existing[0]
        if (newest && newest.sent_at_ms != null && newest.state === u.state && (newest.description ?? undefined) === u.description
          && (newest.target_url ?? undefined) === u.targetUrl) return undefined
        const unsent = existing.filter((r) => r.sent_at_ms == null).map((r) => r.id)
        if (unsent.length) await trx.deleteFrom('status_outbox').where('id', 'in', unsent).execute()
        const now = nowMs()
        return trx.insertInto('status_outbox').values({
          reporter, repository: u.repository, revision: u.revision, context: u.context, state: u.state,
          description: u.description ?? null, target_url: u.targetUrl ?? null, extra: JSON.stringify(u.extra ?? {}),
          queued_at_ms: now, sent_at_ms: null, attempts: 0, next_attempt_ms: now, last_error: null, failed: 0, masterid: ctx.masterid() || null,
        }).returningAll().executeTakeFirstOrThrow()
      })
      if (!stored) return undefined
      const q = toQueued(stored)
      publish(reporter, 'queued', q)
      return q
    },
    /**
     * Unsent updates not given up, oldest first (`limit` rows): those this master queued, and
     * those of masters no longer active (another master sharing the database sends its own).
     */
    async unsent(reporter: string, opts: { dueBy?: number; limit?: number } = {}): Promise<QueuedStatus[]> {
      let q = mine(reporter).selectAll()
      if (opts.dueBy !== undefined) q = q.where('next_attempt_ms', '<=', opts.dueBy)
      return (await q.orderBy('id').limit(opts.limit ?? 500).execute()).map(toQueued)
    },
    /** When the next unsent update not due by `now` becomes due (undefined: none). */
    async nextDue(reporter: string, now: number): Promise<number | undefined> {
      const r = await mine(reporter).select((eb) => eb.fn.min('next_attempt_ms').as('at')).where('next_attempt_ms', '>', now).executeTakeFirst()
      return r?.at == null ? undefined : Number(r.at)
    },
    /** Every stored row of a reporter (sent, unsent, given up), oldest first. */
    async list(reporter: string): Promise<QueuedStatus[]> {
      return (await k.selectFrom('status_outbox').selectAll().where('reporter', '=', reporter).orderBy('id').execute()).map(toQueued)
    },
    /** Records a delivery; older sent rows of the same key are dropped (the newest sent one stays). */
    async markSent(id: number): Promise<void> {
      const row = await k.selectFrom('status_outbox').selectAll().where('id', '=', id).executeTakeFirst()
      if (!row) return
      await k.transaction().execute(async (trx) => {
        await trx.updateTable('status_outbox').set({ sent_at_ms: nowMs(), last_error: null }).where('id', '=', id).execute()
        await keyWhere(trx.deleteFrom('status_outbox'), row.reporter, row).where('id', '<', id).where('sent_at_ms', 'is not', null).execute()
      })
      publish(row.reporter, 'sent', toQueued({ ...row, sent_at_ms: nowMs() }))
    },
    /** A failed attempt: tried again at `nextAttemptMs`. */
    async markRetry(id: number, attempts: number, nextAttemptMs: number, error: string): Promise<void> {
      await k.updateTable('status_outbox').set({ attempts, next_attempt_ms: nextAttemptMs, last_error: error }).where('id', '=', id).execute()
    },
    /** Gives up on a row (it stays, with its error, until pruned). */
    async markFailed(id: number, error: string): Promise<void> {
      const row = await k.updateTable('status_outbox').set({ failed: 1, last_error: error }).where('id', '=', id).returningAll().executeTakeFirst()
      if (row) publish(row.reporter, 'failed', toQueued(row))
    },
    /** Holds back the unsent rows of a reporter (of one repository, or all) until `untilMs`. */
    async defer(reporter: string, untilMs: number, repository?: string): Promise<void> {
      let q = k.updateTable('status_outbox').set({ next_attempt_ms: untilMs }).where('reporter', '=', reporter)
        .where('sent_at_ms', 'is', null).where('next_attempt_ms', '<', untilMs)
      if (repository !== undefined) q = q.where('repository', '=', repository)
      await q.execute()
    },
    /** Drops sent and given-up rows older than `maxAgeMs`. */
    async prune(reporter: string, maxAgeMs: number): Promise<number> {
      const r = await k.deleteFrom('status_outbox').where('reporter', '=', reporter).where('queued_at_ms', '<', nowMs() - maxAgeMs)
        .where((eb) => eb.or([eb('sent_at_ms', 'is not', null), eb('failed', '=', 1)])).executeTakeFirst()
      return Number(r.numDeletedRows)
    },
  }
}

export type StatusOutboxData = ReturnType<typeof createStatusOutboxData>
