import { keyMatches } from './socket-path.ts'

export type EventHandler = (key: string, message: unknown) => void
export type ReconnectHandler = () => void

interface Pending {
  resolve: (frame: Record<string, unknown>) => void
  reject: (err: Error) => void
}

interface Subscription {
  path: string
  handler: EventHandler
}

/**
 * One WebSocket to `/ws` shared by every controller. Commands carry an incrementing `_id` and
 * are answered by a frame with `code`; other frames are events `{k, m}`. After the socket drops
 * (a master restart) it reconnects with exponential backoff, sends `startConsuming` again for
 * every path still in use and tells listeners, so they re-fetch what they missed.
 */
export class WsConnection {
  private socket: WebSocket | null = null
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private readonly subs = new Set<Subscription>()
  /** Reference counts per path: one `startConsuming` per path however many subscribers. */
  private readonly consumed = new Map<string, number>()
  private readonly reconnectHandlers = new Set<ReconnectHandler>()
  private readonly statusHandlers = new Set<(connected: boolean) => void>()
  private opened: Promise<void> | null = null
  private retryMs = 0
  private retryTimer: ReturnType<typeof setTimeout> | null = null
  private needResync = false
  private closed = false
  connected = false

  constructor(private readonly url: string, private readonly maxRetryMs = 10_000) {}

  /**
   * Subscribes a handler to a `/ws` path. `ready` settles when the server acknowledged (or the
   * socket failed: the path is consumed again on reconnect), so a caller can GET afterwards
   * without missing events.
   */
  subscribe(path: string, handler: EventHandler): { ready: Promise<void>; unsubscribe: () => void } {
    const sub = { path, handler }
    this.subs.add(sub)
    const count = this.consumed.get(path) ?? 0
    this.consumed.set(path, count + 1)
    const ready = count === 0
      ? this.command({ cmd: 'startConsuming', path }).then(() => {}, () => {})
      : Promise.resolve()
    return { ready, unsubscribe: () => this.unsubscribe(sub) }
  }

  /** Opens the socket now, so the first subscription does not wait for the handshake too. */
  connect(): void {
    void this.open()
  }

  onReconnect(handler: ReconnectHandler): () => void {
    this.reconnectHandlers.add(handler)
    return () => this.reconnectHandlers.delete(handler)
  }

  onStatus(handler: (connected: boolean) => void): () => void {
    this.statusHandlers.add(handler)
    return () => this.statusHandlers.delete(handler)
  }

  close(): void {
    this.closed = true
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.socket?.close()
  }

  private unsubscribe(sub: Subscription): void {
    if (!this.subs.delete(sub)) return
    const count = (this.consumed.get(sub.path) ?? 1) - 1
    if (count > 0) { this.consumed.set(sub.path, count); return }
    this.consumed.delete(sub.path)
    if (this.connected) this.command({ cmd: 'stopConsuming', path: sub.path }).catch(() => {})
  }

  private async command(frame: Record<string, unknown>): Promise<Record<string, unknown>> {
    await this.open()
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.socket!.send(JSON.stringify({ ...frame, _id: id }))
    })
  }

  private open(): Promise<void> {
    if (this.opened) return this.opened
    this.opened = new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(this.url)
      this.socket = socket
      socket.onopen = () => {
        this.retryMs = 0
        this.setConnected(true)
        resolve()
        // After any lost or failed connection, paths must be consumed again and lists re-read.
        if (this.needResync) { this.needResync = false; void this.resubscribe() }
      }
      socket.onmessage = (ev) => this.receive(String(ev.data))
      socket.onclose = () => {
        reject(new Error('websocket closed'))
        for (const p of this.pending.values()) p.reject(new Error('websocket closed'))
        this.pending.clear()
        this.socket = null
        this.opened = null
        this.needResync = true
        this.setConnected(false)
        if (!this.closed) this.scheduleReconnect()
      }
    })
    // Callers that await a dead attempt get the rejection; this keeps it from going unhandled.
    this.opened.catch(() => {})
    return this.opened
  }

  private scheduleReconnect(): void {
    this.retryMs = Math.min(this.maxRetryMs, this.retryMs ? this.retryMs * 2 : 250)
    this.retryTimer = setTimeout(() => { void this.open() }, this.retryMs)
  }

  private async resubscribe(): Promise<void> {
    await Promise.all([...this.consumed.keys()].map((path) =>
      this.command({ cmd: 'startConsuming', path }).catch(() => {})))
    for (const handler of this.reconnectHandlers) handler()
  }

  private receive(data: string): void {
    let frame: Record<string, unknown>
    try { frame = JSON.parse(data) } catch { return }
    if ('code' in frame) {
      const pending = this.pending.get(frame._id as number)
      if (!pending) return
      this.pending.delete(frame._id as number)
      if (frame.code === 200) pending.resolve(frame)
      else pending.reject(new Error(String(frame.error ?? `code ${frame.code}`)))
      return
    }
    const key = frame.k
    if (typeof key !== 'string') return
    for (const sub of this.subs) {
      if (keyMatches(sub.path, key)) sub.handler(key, frame.m)
    }
  }

  private setConnected(connected: boolean): void {
    this.connected = connected
    for (const h of this.statusHandlers) h(connected)
  }
}
