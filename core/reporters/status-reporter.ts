import { randomUUID } from 'node:crypto'
import type { BuildEntity } from '../data/builds.ts'
import type { Data } from '../data/data.ts'
import { statusKey, type QueuedStatus, type StatusUpdate } from '../data/status-outbox.ts'
import type { Logger } from '../util/logger.ts'
import type { ReporterRuntime, ReporterServices, ReporterSpec } from './reporter.ts'

/**
 * What a sender says about one attempt:
 * - `{ ok: true }`: delivered.
 * - `{ retryAfter: seconds }` or `{ retryAt: epoch ms }`: the target asked to wait (HTTP 429, a
 *   403 with `Retry-After`, a rate-limit reset): nothing more goes to that target (`scope:
 *   'target'`, the update's repository) or to this reporter at all (`scope: 'all'`) until then;
 *   the update is sent again afterwards and the wait is not counted as a failure.
 * - `{ error }`: tried again with exponential backoff; `permanent: true` gives up at once (a 404, a 422).
 * A sender that throws counts as `{ error }`.
 */
export type SendOutcome =
  | { ok: true }
  | { retryAfter: number; scope?: 'target' | 'all' }
  | { retryAt: number; scope?: 'target' | 'all' }
  | { error: string; permanent?: boolean }

/** A core build event a reporter may turn into statuses (`fromBuild`). */
export interface BuildStatusEvent {
  event: 'started' | 'finished'
  build: BuildEntity
  /** The build's properties (values only). */
  properties: Record<string, unknown>
  /** The build's page in the web UI. */
  url: string
}

export interface StatusReporterOptions {
  /** Unique among reporters; the outbox rows are kept under it (keep it stable across restarts). */
  name: string
  /** Delivers one update. Abort when `signal` is aborted (the reporter is stopping). */
  send(update: QueuedStatus, signal: AbortSignal): Promise<SendOutcome>
  /** Turns core build events into statuses (any builder); the Nix plugin's events come through its own mapping. */
  fromBuild?(ev: BuildStatusEvent): StatusUpdate | StatusUpdate[] | undefined | Promise<StatusUpdate | StatusUpdate[] | undefined>
  /** Backoff after errors: `initialMs` (default 2 s) doubling up to `maxMs` (default 10 min); `maxAttempts` (default 12) then give up. */
  retry?: { initialMs?: number; maxMs?: number; maxAttempts?: number }
  /** Updates sent at once (default 4); updates of the same key are always sent one after another. */
  concurrency?: number
  /** Sent and given-up rows older than this are dropped at start (default 30 days). */
  keepMs?: number
  /** How often the outbox is read besides on new updates, to adopt those of a stopped master sharing the database (default 30 s). */
  pollMs?: number
}

/** A reporter spec (for `api.addReporter` or `reporters: [...]`) that also takes updates. */
export interface StatusReporter extends ReporterSpec {
  readonly type: 'status'
  /**
   * Stores an update in the outbox; it is sent by the running reporter of this name. With
   * `onlyIfReported`, only if a status of the same key was stored before.
   */
  report(update: StatusUpdate, opts?: { onlyIfReported?: boolean }): Promise<void>
}

const DAY = 86_400_000

/** The outcome an HTTP status API's answer means (GitHub's and Gitea's conventions). */
export function sendOutcomeOf(res: { status: number; headers: { get(name: string): string | null } }, nowMs = Date.now()): SendOutcome {
  if (res.status >= 200 && res.status < 300) return { ok: true }
  const h = (n: string): string | null => res.headers.get(n)
  const retryAfter = h('retry-after')
  if ((res.status === 429 || res.status === 403 || res.status === 503) && retryAfter != null) {
    const secs = Number(retryAfter)
    if (Number.isFinite(secs)) return { retryAfter: Math.max(0, secs) }
    const at = Date.parse(retryAfter)
    if (Number.isFinite(at)) return { retryAt: at }
  }
  const remaining = h('x-ratelimit-remaining')
  const reset = Number(h('x-ratelimit-reset'))
  if ((res.status === 429 || res.status === 403) && remaining === '0' && Number.isFinite(reset) && reset > 0) {
    return { retryAt: Math.max(nowMs, reset * 1000) }
  }
  if (res.status === 429) return { retryAfter: 60 }
  const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 409
  return { error: `HTTP ${res.status}`, permanent }
}

/**
 * A reporter that delivers commit statuses through the durable outbox (`data.statuses`): every
 * update is stored before it is sent; only the newest state per (repository, revision, context)
 * is sent; errors are retried with exponential backoff; a target that asks to wait is paused;
 * unsent updates are picked up after a restart. Forge plugins give it a `send`.
 *
 * @example
 * ```ts
 * const statuses = statusReporter({
 *   name: 'gitea-statuses',
 *   async send(u, signal) {
 *     const res = await fetch(`${api}/repos/${u.repository}/statuses/${u.revision}`, { method: 'POST', signal,
 *       headers: { 'content-type': 'application/json' }, body: JSON.stringify({ context: u.context, state: u.state, description: u.description, target_url: u.targetUrl }) })
 *     return sendOutcomeOf(res)
 *   },
 * })
 * api.addReporter(statuses)
 * api.use(NixKey).reportStatuses(statuses)
 * ```
 */
export function statusReporter(opts: StatusReporterOptions): StatusReporter {
  let bound: { data: Data; log: Logger } | undefined
  const early: { update: StatusUpdate; onlyIfReported?: boolean }[] = []
  const queue = async (data: Data, log: Logger, update: StatusUpdate, onlyIfReported?: boolean): Promise<void> => {
    try { await data.statuses.queue(opts.name, update, { onlyIfReported }) } catch (err) {
      log.error({ context: update.context, revision: update.revision, err: (err as Error).message }, 'storing a status update failed')
    }
  }
  return {
    kind: 'reporter', type: 'status', name: opts.name,
    // A new instance (a reconfigure ran its plugin's setup again) replaces the running one; the
    // outbox is durable, so the new one sends what the old one had not.
    fingerprint: { type: 'status', name: opts.name, instance: randomUUID() },
    async report(update, o = {}) {
      if (!bound) { early.push({ update, onlyIfReported: o.onlyIfReported }); return }
      await queue(bound.data, bound.log, update, o.onlyIfReported)
    },
    create(services) {
      bound = { data: services.data, log: services.log }
      const runtime = createSender(opts, services)
      const start = runtime.start
      runtime.start = async () => {
        for (const e of early.splice(0)) await queue(services.data, services.log, e.update, e.onlyIfReported)
        await start()
      }
      return runtime
    },
  }
}

/** The sending loop of one status reporter. */
function createSender(opts: StatusReporterOptions, services: ReporterServices): ReporterRuntime {
  const { data, bus, log } = services
  const name = opts.name
  const initialMs = opts.retry?.initialMs ?? 2000
  const maxMs = opts.retry?.maxMs ?? 600_000
  const maxAttempts = opts.retry?.maxAttempts ?? 12
  const concurrency = Math.max(1, opts.concurrency ?? 4)
  const abort = new AbortController()
  const signal = AbortSignal.any([abort.signal, services.signal])
  const inFlight = new Map<string, Promise<void>>()
  const pausedUntil = new Map<string, number>()
  let pausedAllUntil = 0
  let timer: NodeJS.Timeout | undefined
  let poll: NodeJS.Timeout | undefined
  let pumping = false
  // A row handled while a read was under way may come back stale from that read: skip it there.
  let epoch = 0
  const handledAt = new Map<number, number>()
  let again = false
  const subs: { unsubscribe(): void }[] = []

  const wake = (): void => {
    if (signal.aborted) return
    if (pumping) { again = true; return }
    pumping = true
    void pump().catch((err) => log.error({ err: (err as Error).stack }, 'status reporter: reading the outbox failed'))
      .finally(() => { pumping = false; if (again) { again = false; wake() } })
  }

  async function pump(): Promise<void> {
    if (timer) { clearTimeout(timer); timer = undefined }
    const readEpoch = epoch
    const now = Date.now()
    // Rows in backoff or held back for a waiting target are not read until due.
    const rows = await data.statuses.unsent(name, { dueBy: now })
    let nextAt = (await data.statuses.nextDue(name, now)) ?? Infinity
    for (const row of rows) {
      if (signal.aborted) return
      const key = statusKey(row)
      if (inFlight.has(key) || (handledAt.get(row.id) ?? -1) >= readEpoch) continue
      const until = Math.max(row.nextAttemptMs, pausedAllUntil, pausedUntil.get(row.repository) ?? 0)
      if (until > now) { nextAt = Math.min(nextAt, until); continue }
      if (inFlight.size >= concurrency) break
      const p = deliver(row).finally(() => { handledAt.set(row.id, epoch++); inFlight.delete(key); wake() })
      inFlight.set(key, p)
    }
    for (const [id, e] of handledAt) if (e < readEpoch) handledAt.delete(id)
    if (nextAt < Infinity && !signal.aborted) {
      timer = setTimeout(wake, Math.min(nextAt - now + 5, 2 ** 31 - 1))
      timer.unref?.()
    }
  }

  async function deliver(row: QueuedStatus): Promise<void> {
    let outcome: SendOutcome
    try { outcome = await opts.send(row, signal) } catch (err) {
      if (signal.aborted) return
      outcome = { error: (err as Error).message ?? String(err) }
    }
    if (signal.aborted) return
    if ('ok' in outcome) {
      await data.statuses.markSent(row.id)
      return
    }
    if ('retryAfter' in outcome || 'retryAt' in outcome) {
      const until = 'retryAt' in outcome ? outcome.retryAt : Date.now() + outcome.retryAfter * 1000
      const all = outcome.scope === 'all'
      if (all) pausedAllUntil = Math.max(pausedAllUntil, until)
      else pausedUntil.set(row.repository, Math.max(pausedUntil.get(row.repository) ?? 0, until))
      log.warn({ repository: all ? undefined : row.repository, until: new Date(until).toISOString() }, 'status target asked to wait; sending paused')
      await data.statuses.defer(name, until, all ? undefined : row.repository)
      return
    }
    const attempts = row.attempts + 1
    if (outcome.permanent || attempts >= maxAttempts) {
      log.error({ context: row.context, revision: row.revision, repository: row.repository, attempts, err: outcome.error }, 'status update given up')
      await data.statuses.markFailed(row.id, outcome.error)
      return
    }
    const delay = Math.min(maxMs, initialMs * 2 ** (attempts - 1))
    log.warn({ context: row.context, revision: row.revision, attempts, retryInMs: delay, err: outcome.error }, 'sending a status failed; retrying')
    await data.statuses.markRetry(row.id, attempts, Date.now() + delay, outcome.error)
  }

  async function fromBuild(event: 'started' | 'finished', b: BuildEntity): Promise<void> {
    if (!opts.fromBuild) return
    const build = await data.builds.getBuild(b.buildid)
    if (!build) return
    const properties = Object.fromEntries(Object.entries(build.properties).map(([k, v]) => [k, v[0]]))
    const url = `${services.buildbotURL}#/builders/${build.builderid}/builds/${build.number}`
    const out = await opts.fromBuild({ event, build, properties, url })
    for (const u of out === undefined ? [] : Array.isArray(out) ? out : [out]) await data.statuses.queue(name, u)
  }

  return {
    async start() {
      const removed = await data.statuses.prune(name, opts.keepMs ?? 30 * DAY)
      if (removed) log.info({ removed }, 'status outbox: old rows dropped')
      subs.push(bus.subscribe(['statuses', name, 'queued'], () => wake()))
      if (opts.fromBuild) {
        const on = (event: 'started' | 'finished') => (_k: unknown, m: unknown): void => {
          void fromBuild(event, m as BuildEntity).catch((err) => log.error({ err: (err as Error).stack }, 'status reporter: turning a build event into statuses failed'))
        }
        // Each master reports the builds it runs: another master's builds are its reporters' to report.
        subs.push(bus.subscribe(['builds', null, 'new'], on('started'), { localOnly: true }))
        subs.push(bus.subscribe(['builds', null, 'finished'], on('finished'), { localOnly: true }))
      }
      poll = setInterval(wake, opts.pollMs ?? 30_000)
      poll.unref?.()
      wake()
    },
    async stop() {
      abort.abort(new Error('reporter stopping'))
      for (const s of subs.splice(0)) s.unsubscribe()
      if (timer) clearTimeout(timer)
      if (poll) clearInterval(poll)
      await Promise.allSettled([...inFlight.values()])
    },
  }
}
