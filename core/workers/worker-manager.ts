import { timingSafeEqual, createHash } from 'node:crypto'
import type { Data } from '../data/data.ts'
import type { Logger } from '../util/logger.ts'
import type { WorkerConnection, WorkerRegistry } from './worker-connection.ts'

export interface WorkerSlotConfig { name: string; password?: string; maxBuilds: number; properties: Record<string, unknown>; remote: boolean }

/** A configured worker and its live connection, if any. */
export interface WorkerSlot {
  readonly name: string
  workerid: number
  conn: WorkerConnection | undefined
  config: WorkerSlotConfig
  running: number
  paused: boolean
  graceful: boolean
}

const digest = (s: string) => createHash('sha256').update(s).digest()

/**
 * Tracks configured workers, their connections and free build slots. Protocol listeners
 * authenticate and attach through it (it is their `WorkerRegistry`).
 */
export class WorkerManager implements WorkerRegistry {
  private readonly slots = new Map<string, WorkerSlot>()
  /** Builders (name, builddir) each worker serves, for setBuilderList on attach. */
  private buildersOf: (workerName: string) => { name: string; builddir: string }[] = () => []

  constructor(private readonly data: Data, private readonly log: Logger, private readonly onAvailable: () => void,
    private readonly onLost: (workerName: string, reason: string) => void) {}

  async configure(workers: WorkerSlotConfig[], buildersOf: (workerName: string) => { name: string; builddir: string }[]): Promise<void> {
    this.buildersOf = buildersOf
    const want = new Set(workers.map((w) => w.name))
    for (const [name, slot] of this.slots) {
      if (want.has(name)) continue
      this.slots.delete(name)
      await slot.conn?.disconnect('worker removed from the configuration')
    }
    for (const w of workers) {
      const slot = this.slots.get(w.name)
      if (slot) { slot.config = w; continue }
      const workerid = await this.data.workers.findWorkerId(w.name)
      const row = await this.data.workers.entity(workerid)
      this.slots.set(w.name, { name: w.name, workerid, conn: undefined, config: w, running: 0, paused: row?.paused ?? false, graceful: false })
    }
    for (const slot of this.slots.values()) if (slot.conn) await slot.conn.setBuilderList(this.buildersOf(slot.name))
  }

  get(name: string): WorkerSlot | undefined { return this.slots.get(name) }
  byId(workerid: number): WorkerSlot | undefined { for (const s of this.slots.values()) if (s.workerid === workerid) return s; return undefined }
  all(): WorkerSlot[] { return [...this.slots.values()] }

  authenticate(name: string, password: string): boolean {
    const expected = this.slots.get(name)?.config.password
    const ok = timingSafeEqual(digest(password), digest(expected ?? '\u0000no-such-worker'))
    return expected != null && ok
  }

  connection(name: string): WorkerConnection | undefined { return this.slots.get(name)?.conn }

  async attach(conn: WorkerConnection): Promise<void> {
    const slot = this.slots.get(conn.workerName)
    if (!slot) { await conn.disconnect('unknown worker'); return }
    await conn.setBuilderList(this.buildersOf(slot.name))
    slot.conn = conn
    slot.graceful = false
    await this.data.workers.workerConnected(slot.workerid, conn.info)
    this.log.info({ worker: slot.name }, 'worker connected')
    conn.closed.then(async (reason) => {
      if (slot.conn !== conn) return
      slot.conn = undefined
      this.log.warn({ worker: slot.name, reason }, 'worker disconnected')
      await this.data.workers.workerDisconnected(slot.workerid).catch(() => {})
      this.onLost(slot.name, reason)
    }).catch((err: Error) => this.log.error({ worker: slot.name, err: err.message }, 'handling a worker disconnect failed'))
    this.onAvailable()
  }

  /**
   * A connected, unpaused worker among `names` with a free slot, least busy first; `allowed`
   * lets the caller apply per-builder limits (see BuilderConfig.maxBuildsPerWorker).
   */
  acquire(names: readonly string[], allowed: (slot: WorkerSlot) => boolean = () => true): WorkerSlot | undefined {
    let best: WorkerSlot | undefined
    for (const n of names) {
      const s = this.slots.get(n)
      if (!s || !s.conn || s.paused || s.graceful || s.running >= s.config.maxBuilds) continue
      if (!allowed(s)) continue
      if (!best || s.running < best.running) best = s
    }
    if (best) best.running++
    return best
  }

  release(slot: WorkerSlot): void {
    slot.running = Math.max(0, slot.running - 1)
    if (slot.graceful && slot.running === 0) {
      slot.conn?.disconnect('graceful shutdown', { shutdown: true })
        .catch((err: Error) => this.log.warn({ worker: slot.name, err: err.message }, 'disconnecting a worker after a graceful shutdown failed'))
    }
    this.onAvailable()
  }

  async action(workerid: number, action: 'stop' | 'pause' | 'unpause' | 'kill', reason: string): Promise<void> {
    const slot = this.byId(workerid)
    if (!slot) throw new Error(`no worker with id ${workerid}`)
    if (action === 'pause' || action === 'unpause') {
      slot.paused = action === 'pause'
      await this.data.workers.setWorkerState(workerid, { paused: slot.paused, pause_reason: slot.paused ? reason : null })
      if (!slot.paused) this.onAvailable()
    } else if (action === 'stop') {
      slot.graceful = true
      await this.data.workers.setWorkerState(workerid, { graceful: true })
      if (slot.running === 0) await slot.conn?.disconnect('graceful shutdown', { shutdown: true })
    } else {
      await slot.conn?.disconnect(reason || 'killed', { shutdown: true })
    }
  }
}
