import { WsConnection, type EventHandler } from './ws-connection.ts'

/** An HTTP or JSON-RPC failure, with the status so pages can tell "forbidden" from "broken". */
export class ApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message)
  }
}

export interface ApiResponse {
  items: Record<string, unknown>[]
  plural: string
  total: number | undefined
}

export interface ApiClientOptions {
  /** Base URL of the master, ending in `/` (Buildbot's `buildbotURL`). */
  baseUrl: string
  fetch?: typeof fetch
  /** The session's CSRF token from `/config`; sent with every control request. */
  csrfToken?: string
}

/**
 * The one client of the master: REST reads of `/api/v2`, JSON-RPC control and the shared `/ws`
 * connection. Pages get it through `apiContext`, so tests and several masters never share state.
 */
export class ApiClient {
  readonly ws: WsConnection
  private readonly fetchFn: typeof fetch
  private rpcId = 1

  constructor(readonly options: ApiClientOptions) {
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init))
    const url = new URL('ws', options.baseUrl)
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
    this.ws = new WsConnection(url.href)
  }

  url(path: string): string {
    return new URL(`api/v2/${path.replace(/^\/+/, '')}`, this.options.baseUrl).href
  }

  /** GET a data API path; returns the entities of the envelope `{<plural>: [...], meta}`. */
  async get(path: string, signal?: AbortSignal): Promise<ApiResponse> {
    const res = await this.fetchFn(this.url(path), { headers: { Accept: 'application/json' }, signal, credentials: 'same-origin' })
    const body = await res.json().catch(() => ({})) as Record<string, unknown>
    if (!res.ok) throw new ApiError(String(body.error ?? res.statusText), res.status)
    const plural = Object.keys(body).find((k) => k !== 'meta') ?? ''
    const meta = body.meta as { total?: number } | undefined
    return { items: (body[plural] as Record<string, unknown>[]) ?? [], plural, total: meta?.total }
  }

  /** JSON-RPC 2.0 action on an endpoint (`stop`, `rebuild`, `cancel`, `force`, `reload`). */
  async control(path: string, method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const res = await this.fetchFn(this.url(path), {
      method: 'POST',
      credentials: 'same-origin',
      headers: this.postHeaders(),
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: this.rpcId++ }),
    })
    const body = await res.json().catch(() => ({})) as { result?: unknown; error?: { message?: unknown } | string }
    if (!res.ok || (typeof body.error === 'object' && body.error)) {
      const err = body.error
      const msg = typeof err === 'string' ? err : err?.message
      const text = typeof msg === 'string' ? msg : msg ? JSON.stringify(msg) : res.statusText
      throw new ApiError(res.status === 403 ? `Forbidden: ${text}` : text, res.status)
    }
    return body.result
  }

  /** Logs in with a form provider; the session cookie is set on success. Throws with the master's message. */
  async login(provider: string, username: string, password: string): Promise<void> {
    const res = await this.fetchFn(new URL(`auth/${encodeURIComponent(provider)}/login`, this.options.baseUrl).href, {
      method: 'POST', credentials: 'same-origin', headers: this.postHeaders(), body: JSON.stringify({ username, password }),
    })
    if (!res.ok) {
      const body = await res.json().catch(() => ({})) as { error?: string }
      throw new ApiError(body.error ?? res.statusText, res.status)
    }
  }

  /** Ends the session; answers where to go next (the UI, or the provider's sign-out page). */
  async logout(): Promise<string> {
    const res = await this.fetchFn(new URL('auth/logout', this.options.baseUrl).href, { method: 'POST', credentials: 'same-origin', headers: this.postHeaders() })
    const body = await res.json().catch(() => ({})) as { redirect?: string; error?: string }
    if (!res.ok) throw new ApiError(body.error ?? res.statusText, res.status)
    return body.redirect ?? this.options.baseUrl
  }

  /** JSON, plus the CSRF token a cross-site page cannot know. */
  private postHeaders(): Record<string, string> {
    const h: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' }
    if (this.options.csrfToken) h['X-CSRF-Token'] = this.options.csrfToken
    return h
  }

  subscribe(path: string, handler: EventHandler): { ready: Promise<void>; unsubscribe: () => void } {
    return this.ws.subscribe(path, handler)
  }

  /** Waits for a subscription acknowledgement, but never longer than `ms` (a master may be down). */
  static settle(ready: Promise<void>, ms = 1500): Promise<void> {
    return Promise.race([ready, new Promise<void>((r) => setTimeout(r, ms))])
  }

  close(): void {
    this.ws.close()
  }
}
