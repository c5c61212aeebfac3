import type { Bus, RoutingKey, Subscription } from '../bus/bus.ts'
import type { Db } from '../db/connect.ts'
import type { Logger } from '../util/logger.ts'

/** The channel every master sharing the database listens on. */
export const EVENTS_CHANNEL = 'bbn_events'
/** PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more; larger batches go by reference. */
export const INLINE_LIMIT = 7900
const BATCH_MAX = 500
/** Unsent events kept while the database is unreachable; older ones are dropped (clients reload then). */
const OUTGOING_MAX = 100_000
const RETENTION_MS = 10 * 60_000
const PRUNE_EVERY_MS = 60_000
const RECONNECT_MAX_MS = 5_000

export interface PgEventBridgeOptions {
  db: Db
  bus: Bus
  log: Logger
  masterid: number
  /** `application_name` of the listening connection (an operator can tell the masters apart). */
  applicationName?: string
  /** How long sent events stay readable for a master catching up (default 10 minutes). */
  retentionMs?: number
}

export interface PgEventBridgeStats { sent: number; received: number; caughtUp: number; queued: number; connected: boolean; reconnects: number }

type Row = { id: number; masterid: number; key: string; payload: string }

/**
 * Events across masters that share a PostgreSQL database. Every event published on this
 * master's bus is stored in `bus_events` and announced with `NOTIFY bbn_events`, in one
 * statement per batch, one batch at a time (so one master's events commit in publication
 * order). A notification carries the batch itself when it fits under PostgreSQL's 8,000-byte
 * limit, else the id range of its rows, which listeners read. Listeners hand other masters'
 * events to their bus (`deliverRemote`) in order, each origin's at most once (ids only grow per
 * origin). After a lost connection the listener reconnects and reads what it missed from the
 * table; rows older than `retentionMs` are pruned.
 */
export function createPgEventBridge(o: PgEventBridgeOptions) {
  const { db, bus, log, masterid } = o
  const retentionMs = o.retentionMs ?? RETENTION_MS
  const stats: PgEventBridgeStats = { sent: 0, received: 0, caughtUp: 0, queued: 0, connected: false, reconnects: 0 }
  let stopped = false

  type Client = import('pg').Client

  // ---- sending
  let outgoing: { key: string; payload: string }[] = []
  let sending: Promise<void> | undefined
  let tap: Subscription | undefined
  let sendFailures = 0
  const sleep = (ms: number) => new Promise<void>((r) => { const t = setTimeout(r, ms); t.unref?.() })

  async function sendLoop(): Promise<void> {
    // Events published in the same tick go out as one batch.
    await new Promise<void>((r) => setImmediate(r))
    while (outgoing.length) {
      const batch = outgoing.slice(0, BATCH_MAX)
      try {
        await send(batch)
        outgoing.splice(0, batch.length)
        stats.sent += batch.length
        if (sendFailures) log.info({ queued: outgoing.length }, 'events to other masters flow again')
        sendFailures = 0
      } catch (err) {
        if (stopped) { log.warn({ dropped: outgoing.length, err: (err as Error).message }, 'master stopping: events not sent to other masters'); outgoing = []; break }
        if (!sendFailures++) log.warn({ err: (err as Error).message }, 'sending events to other masters failed; retrying')
        await sleep(Math.min(100 * 2 ** sendFailures, RECONNECT_MAX_MS))
      }
    }
    stats.queued = outgoing.length
  }

  /**
   * The sending connection: its own, with `synchronous_commit = off` (these rows are only for
   * catching up; waiting for a disk flush per batch would triple the delay). Reopened after an error.
   */
  let sender: Promise<Client> | undefined
  function senderClient(): Promise<Client> {
    sender ??= (async () => {
      const { default: pg } = await import('pg')
      const c = new pg.Client({ connectionString: db.url, application_name: o.applicationName, options: '-c synchronous_commit=off' })
      const drop = () => { if (sender === p) sender = undefined }
      c.on('error', drop)
      c.on('end', drop)
      try { await c.connect() } catch (err) { drop(); throw err }
      return c
    })()
    const p = sender
    return p
  }

  /**
   * One statement (one round trip, atomic): store the batch, then notify with the batch inline
   * when it fits under the limit, else with the id range of its rows.
   */
  async function send(batch: { key: string; payload: string }[]): Promise<void> {
    const params: unknown[] = [masterid, Date.now(), EVENTS_CHANNEL, INLINE_LIMIT]
    const rows = batch.map((e) => { params.push(e.key, e.payload); return `($1, $${params.length - 1}, $${params.length}, $2)` })
    const text = `with ins as (insert into bus_events (masterid, key, payload, at_ms) values ${rows.join(',')} returning id, key, payload),
      n as (select json_build_object('m', $1::int, 'e', json_agg(json_build_array(id, key, payload) order by id))::text as t, min(id) as lo, max(id) as hi from ins)
      select pg_notify($3, case when octet_length(t) < $4 then t else json_build_object('m', $1::int, 'from', lo, 'to', hi)::text end) from n`
    const c = await senderClient()
    try { await c.query(text, params) } catch (err) { if (sender) void sender.then((x) => x.end()).catch(() => {}); sender = undefined; throw err }
  }

  let dropped = 0
  function onPublish(key: RoutingKey, message: unknown): void {
    outgoing.push({ key: key.join('/'), payload: JSON.stringify(message ?? null) })
    if (outgoing.length > OUTGOING_MAX) {
      // Not the batch being sent (the front): the oldest after it.
      outgoing.splice(BATCH_MAX, outgoing.length - OUTGOING_MAX)
      if (!dropped++) log.error({ kept: OUTGOING_MAX }, 'the database has been unreachable too long: the oldest unsent events for other masters are dropped')
    }
    stats.queued = outgoing.length
    sending ??= sendLoop().catch((err) => log.error({ err: String(err) }, 'event sender failed')).finally(() => { sending = undefined })
  }

  // ---- receiving
  let client: Client | undefined
  /** Per origin master, the id of the last event delivered; origins not seen yet start at `baseline`. */
  const lastSeen = new Map<number, number>()
  let baseline = 0
  let chain: Promise<void> = Promise.resolve()
  let reconnectTimer: NodeJS.Timeout | undefined
  let reconnectDelay = 100
  let pruneTimer: NodeJS.Timeout | undefined

  /** Work on received events runs one item at a time, so events keep their order. */
  const serial = (fn: () => Promise<void> | void) => {
    chain = chain.then(fn).catch((err) => {
      log.warn({ err: String((err as Error)?.message ?? err) }, 'reading events of other masters failed; catching up from the database')
      scheduleCatchUp()
    })
  }

  function deliver(id: number, origin: number, key: string, message: unknown, caughtUp: boolean): void {
    if (origin === masterid) return
    if (id <= (lastSeen.get(origin) ?? baseline)) return
    lastSeen.set(origin, id)
    stats.received++
    if (caughtUp) stats.caughtUp++
    bus.deliverRemote(key.split('/'), message)
  }

  async function onNotification(payload: string): Promise<void> {
    const n = JSON.parse(payload) as { m: number; e?: [number, string, string][]; from?: number; to?: number }
    if (n.m === masterid) return
    if (n.e) { for (const [id, key, m] of n.e) deliver(Number(id), n.m, key, JSON.parse(m), false); return }
    const rows = await db.k.selectFrom('bus_events').select(['id', 'masterid', 'key', 'payload'])
      .where('masterid', '=', n.m).where('id', '>=', n.from!).where('id', '<=', n.to!).orderBy('id').execute() as Row[]
    for (const r of rows) deliver(Number(r.id), r.masterid, r.key, JSON.parse(r.payload), false)
  }

  /** Reads, in id order, every event of other masters after the oldest one this master has seen. */
  async function catchUp(): Promise<void> {
    let from = Math.min(baseline, ...lastSeen.values())
    for (;;) {
      const rows = await db.k.selectFrom('bus_events').select(['id', 'masterid', 'key', 'payload'])
        .where('id', '>', from).where('masterid', '!=', masterid).orderBy('id').limit(2000).execute() as Row[]
      for (const r of rows) deliver(Number(r.id), r.masterid, r.key, JSON.parse(r.payload), true)
      if (rows.length < 2000) return
      from = Number(rows[rows.length - 1]!.id)
    }
  }
  const scheduleCatchUp = () => { if (!stopped) setTimeout(() => serial(catchUp), 200).unref?.() }

  async function listen(): Promise<void> {
    const { default: pg } = await import('pg')
    const c = new pg.Client({ connectionString: db.url, application_name: o.applicationName })
    c.on('error', () => { /* 'end' follows; reconnect there */ })
    c.on('notification', (n) => { if (n.channel === EVENTS_CHANNEL && n.payload) { const p = n.payload; serial(() => onNotification(p)) } })
    c.on('end', () => {
      if (client !== c) return
      client = undefined
      stats.connected = false
      if (!stopped) { log.warn('lost the PostgreSQL connection that receives other masters\' events; reconnecting'); reconnectSoon() }
    })
    await c.connect()
    await c.query(`LISTEN ${EVENTS_CHANNEL}`)
    client = c
    stats.connected = true
  }

  function reconnectSoon(): void {
    if (stopped || reconnectTimer) return
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined
      listen().then(() => {
        stats.reconnects++
        reconnectDelay = 100
        log.info('receiving other masters\' events again; catching up')
        serial(catchUp)
      }, () => {
        reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS)
        reconnectSoon()
      })
    }, reconnectDelay)
    reconnectTimer.unref?.()
  }

  async function prune(): Promise<void> {
    await db.k.deleteFrom('bus_events').where('at_ms', '<', Date.now() - retentionMs).execute()
  }

  return {
    stats: (): PgEventBridgeStats => ({ ...stats, queued: outgoing.length }),
    /** Listens first, then notes the newest event: everything after it reaches this master. */
    async start(): Promise<void> {
      await listen()
      const row = await db.k.selectFrom('bus_events').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst()
      baseline = Number(row?.m ?? 0)
      tap = bus.tap(onPublish)
      pruneTimer = setInterval(() => void prune().catch((err) => log.warn({ err: String(err) }, 'pruning old events failed')), PRUNE_EVERY_MS)
      pruneTimer.unref?.()
    },
    /** Sends what is queued (a last try), then closes the listening connection. */
    async stop(): Promise<void> {
      tap?.unsubscribe()
      if (sending) { stopped = true; await sending }
      stopped = true
      if (pruneTimer) clearInterval(pruneTimer)
      if (reconnectTimer) clearTimeout(reconnectTimer)
      const c = client
      client = undefined
      stats.connected = false
      await chain
      await c?.end().catch(() => {})
      const sc = sender
      sender = undefined
      await sc?.then((x) => x.end()).catch(() => {})
    },
  }
}

export type PgEventBridge = ReturnType<typeof createPgEventBridge>
