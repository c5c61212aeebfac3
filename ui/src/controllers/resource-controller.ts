import type { ReactiveController, ReactiveControllerHost } from 'lit'
import { ContextConsumer } from '@lit/context'
import { apiContext } from '../api/context.ts'
import { ApiClient } from '../api/api-client.ts'
import { socketPath, stripQuery } from '../api/socket-path.ts'
import { idFieldOf } from './id-field.ts'

type Host = ReactiveControllerHost & HTMLElement
export type Entity = Record<string, unknown>

export interface ResourceOptions<T> {
  /** REST path under `/api/v2`, query included (`builds?order=-buildid&limit=50`); null = idle. */
  path: string | null
  /** `/ws` path; defaults to the one matching the REST path (§2.5). `false` = no live updates. */
  wsPath?: string | false
  idField?: string
  /** Keeps an item after an event only when it still belongs (e.g. `complete=false` filters). */
  accept?: (item: T) => boolean
  /** Re-read the REST path when an unknown item appears (events carry no properties). */
  refetchOnNew?: boolean
  /**
   * Whether the items can no longer change (a finished build, the jobs of a finished evaluation).
   * With it the GET does not wait for the `/ws` subscription to be acknowledged (a round trip on
   * the critical path of every page); once both are done the path is read again unless `final`
   * says nothing can have been missed in between.
   */
  final?: (items: T[]) => boolean
}

/**
 * Fetch + subscribe for one data API path: REST GET, then merge `new/update/finished/...` events
 * of the matching `/ws` path; re-fetch after a reconnect; stop consuming when the host leaves
 * the DOM. Components only read `items`, `loading` and `error`.
 */
export class ResourceController<T extends Entity = Entity> implements ReactiveController {
  loading = false
  error: string | null = null
  /** The HTTP status of the failed GET (404: the thing does not exist), else null. */
  errorStatus: number | null = null
  total: number | undefined
  /** Bumped on every change, so renders can memoize derived lists. */
  version = 0
  private readonly byId = new Map<unknown, T>()
  private cached: T[] | null = null
  private idField: string | undefined
  private generation = 0
  private stopFns: (() => void)[] = []
  private connected = false
  private refetchTimer: ReturnType<typeof setTimeout> | null = null
  private updateQueued = false
  private readonly consumer: ContextConsumer<typeof apiContext, Host>

  constructor(private readonly host: Host, private options: ResourceOptions<T>) {
    this.consumer = new ContextConsumer(host, { context: apiContext, callback: () => this.restart() })
    host.addController(this)
  }

  get items(): T[] {
    if (!this.cached) this.cached = [...this.byId.values()]
    return this.cached
  }

  get first(): T | undefined {
    return this.items[0]
  }

  get client(): ApiClient | undefined {
    return this.consumer.value
  }

  /** Points the controller at another path (route change); a no-op when unchanged. */
  setPath(path: string | null): void {
    if (path === this.options.path) return
    this.options = { ...this.options, path }
    this.byId.clear()
    this.changed()
    this.restart()
  }

  hostConnected(): void {
    this.connected = true
    this.restart()
  }

  hostDisconnected(): void {
    this.connected = false
    this.stop()
  }

  /** Re-reads the REST path and replaces the items (after a reconnect or an action). */
  async refetch(): Promise<void> {
    const client = this.client
    const path = this.options.path
    if (!client || !path) return
    const gen = this.generation
    try {
      const res = await client.get(path)
      if (gen !== this.generation) return
      this.idField = this.options.idField ?? idFieldOf(res.plural)
      this.byId.clear()
      for (const item of res.items) this.byId.set(item[this.idField], item as T)
      this.total = res.total
      this.error = null
      this.errorStatus = null
    } catch (err) {
      if (gen !== this.generation) return
      this.error = (err as Error).message
      this.errorStatus = (err as { status?: number }).status ?? null
    }
    this.loading = false
    this.changed()
  }

  private restart(): void {
    this.stop()
    if (!this.connected || !this.client || !this.options.path) return
    void this.start(this.client, this.options.path)
  }

  private async start(client: ApiClient, path: string): Promise<void> {
    const gen = ++this.generation
    this.loading = true
    this.changed()
    const wsPath = this.options.wsPath ?? socketPath(path)
    if (wsPath !== false) {
      // Events that arrive while the GET is in flight are applied after it, so none is lost.
      let buffer: [string, unknown][] | null = []
      const sub = client.subscribe(wsPath, (key, msg) => {
        if (gen !== this.generation) return
        if (buffer) buffer.push([key, msg])
        else this.onEvent(key, msg)
      })
      this.stopFns.push(sub.unsubscribe, client.ws.onReconnect(() => { void this.refetch() }))
      const final = this.options.final
      if (final) await Promise.all([ApiClient.settle(sub.ready), this.refetch()])
      else {
        await ApiClient.settle(sub.ready)
        if (gen !== this.generation) return
        await this.refetch()
      }
      if (gen !== this.generation) return
      const pending = buffer
      buffer = null
      for (const [k, m] of pending) this.onEvent(k, m)
      // The read may have been answered before the subscription stood: read again unless nothing can change.
      if (final && !this.error && !final(this.items)) await this.refetch()
    } else {
      await this.refetch()
    }
  }

  private stop(): void {
    this.generation++
    for (const fn of this.stopFns.splice(0)) fn()
    if (this.refetchTimer) clearTimeout(this.refetchTimer)
    this.refetchTimer = null
  }

  private onEvent(key: string, message: unknown): void {
    if (!message || typeof message !== 'object') return
    const idField = this.idField ?? this.options.idField
    if (stripQuery(this.options.path ?? '').endsWith('/properties')) {
      // Property events carry only the changed properties: merge them into the one dict.
      const current = (this.items[0] ?? {}) as T
      this.byId.clear()
      this.byId.set(0, { ...current, ...(message as T) })
      this.changed()
      return
    }
    if (!idField) return
    const msg = message as T
    const id = msg[idField]
    if (id === undefined) return
    const old = this.byId.get(id)
    if (!old && this.options.refetchOnNew) this.scheduleRefetch()
    const merged = { ...old, ...msg } as T
    // Build events carry `properties: {}`; keep what a `property=` GET brought.
    if (old && isEmptyObject(msg.properties) && old.properties) (merged as Entity).properties = old.properties
    if (this.options.accept && !this.options.accept(merged)) this.byId.delete(id)
    else this.byId.set(id, merged)
    this.changed()
  }

  private scheduleRefetch(): void {
    if (this.refetchTimer) return
    this.refetchTimer = setTimeout(() => { this.refetchTimer = null; void this.refetch() }, 300)
  }

  private changed(): void {
    this.cached = null
    this.version++
    // Each /ws frame is its own task: batching per animation frame turns a burst of thousands
    // of events into one render per frame. Hidden tabs get no frames, hence the timeout too.
    if (this.updateQueued) return
    this.updateQueued = true
    const flush = () => {
      if (!this.updateQueued) return
      this.updateQueued = false
      this.host.requestUpdate()
    }
    requestAnimationFrame(flush)
    setTimeout(flush, 250)
  }
}

function isEmptyObject(v: unknown): boolean {
  return !!v && typeof v === 'object' && Object.keys(v).length === 0
}
