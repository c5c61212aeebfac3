/** A repository as Gitea's API describes it (the fields the plugin reads). */
export interface GiteaRepo {
  id: number
  name: string
  full_name: string
  owner: { login: string }
  private: boolean
  fork?: boolean
  default_branch: string
  clone_url: string
  ssh_url: string
  html_url: string
  description?: string
  permissions?: { admin: boolean; push: boolean; pull: boolean }
}

export interface GiteaHook { id: number; type: string; active: boolean; events: string[]; config: Record<string, string> }

/** An answer of Gitea that was not what the call needed, with what to do about it. */
export class GiteaApiError extends Error {
  constructor(message: string, readonly status: number) { super(message) }
}

export interface GiteaApi {
  readonly instanceUrl: string
  /** One call, answered as is (network failures throw `GiteaApiError`). */
  raw(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response>
  request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; data: T }>
  /** Every page of a list endpoint (`limit`/`page`; stops at a short page). */
  list<T>(path: string): Promise<T[]>
}

/**
 * Gitea's REST API with the token (`Authorization: token …`): the token is read from its file on
 * every call, so a rotated token is used at once, and never appears in an error message.
 */
export function createGiteaApi(o: { instanceUrl: string; token: () => Promise<string>; signal?: AbortSignal; timeoutMs?: number }): GiteaApi {
  const base = o.instanceUrl.replace(/\/+$/, '')
  const explain = (status: number, method: string, path: string, text: string): string => {
    const what = `${method} ${path}: HTTP ${status}`
    if (status === 401) return `${what}: the token was refused; check tokenFile (a token of the buildbot user)`
    if (status === 403) return `${what}: the token lacks a permission for this (it needs the scopes write:repository and write:user, and admin rights on the repository)${text ? ` (${text.slice(0, 200)})` : ''}`
    return `${what}${text ? `: ${text.slice(0, 200)}` : ''}`
  }
  const api: GiteaApi = {
    instanceUrl: base,
    async raw(method, path, body, signal) {
      const token = await o.token()
      const all = AbortSignal.any([AbortSignal.timeout(o.timeoutMs ?? 30_000), ...(o.signal ? [o.signal] : []), ...(signal ? [signal] : [])])
      try {
        return await fetch(`${base}/api/v1${path}`, {
          method, signal: all,
          headers: { authorization: `token ${token}`, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          body: body !== undefined ? JSON.stringify(body) : undefined,
        })
      } catch (err) {
        const cause = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message
        throw new GiteaApiError(`${method} ${path}: ${base} is unreachable (${cause})`, 0)
      }
    },
    async request<T>(method: string, path: string, body?: unknown) {
      const res = await api.raw(method, path, body)
      const text = await res.text()
      if (res.status >= 400 && res.status !== 404) throw new GiteaApiError(explain(res.status, method, path, text), res.status)
      let data: unknown = undefined
      if (text) { try { data = JSON.parse(text) } catch { throw new GiteaApiError(`${method} ${path}: the answer is not JSON (is ${base} a Gitea instance?)`, res.status) } }
      return { status: res.status, data: data as T }
    },
    async list<T>(path: string) {
      const out: T[] = []
      const limit = 50
      for (let page = 1; page < 1000; page++) {
        const sep = path.includes('?') ? '&' : '?'
        const r = await api.request<T[]>('GET', `${path}${sep}limit=${limit}&page=${page}`)
        if (r.status === 404) throw new GiteaApiError(`GET ${path}: HTTP 404`, 404)
        if (!Array.isArray(r.data)) throw new GiteaApiError(`GET ${path}: expected a list`, r.status)
        out.push(...r.data)
        if (r.data.length < limit) break
      }
      return out
    },
  }
  return api
}
