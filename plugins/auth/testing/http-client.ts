/** A client's credentials: a session cookie with its CSRF token, a bearer token, or nothing. */
export type Credentials = { cookie: string; csrf: string } | { bearer: string } | { basic: string } | { headers: Record<string, string> } | undefined

const cookiesOf = (res: Response): string[] => res.headers.getSetCookie().map((c) => c.split(';')[0]!)

export function headersOf(c: Credentials): Record<string, string> {
  if (!c) return {}
  if ('cookie' in c) return { cookie: c.cookie, 'x-csrf-token': c.csrf }
  if ('bearer' in c) return { authorization: `Bearer ${c.bearer}` }
  if ('basic' in c) return { authorization: `Basic ${Buffer.from(c.basic).toString('base64')}` }
  return c.headers
}

/**
 * Signs in the way a browser does, with fetch: `/auth/<provider>/login`, the redirects through
 * the forge and the identity provider, the callback with the login-state cookie. Answers the
 * session cookie and the CSRF token of `/config`, and every hop's status and location.
 */
export async function signIn(baseURL: string, provider: string): Promise<{ cookie: string; csrf: string; user: Record<string, unknown>; hops: { status: number; location: string | null }[] }> {
  const hops: { status: number; location: string | null }[] = []
  let res = await fetch(`${baseURL}auth/${provider}/login?redirect=/builders`, { redirect: 'manual' })
  const loginCookie = cookiesOf(res).join('; ')
  hops.push({ status: res.status, location: res.headers.get('location') })
  let next = res.headers.get('location')
  while (next && !next.startsWith(baseURL)) {
    res = await fetch(next, { redirect: 'manual' })
    hops.push({ status: res.status, location: res.headers.get('location') })
    next = res.headers.get('location')
  }
  if (!next) throw new Error(`the sign-in stopped at HTTP ${res.status}: ${await res.text()}`)
  res = await fetch(next, { redirect: 'manual', headers: { cookie: loginCookie } })
  hops.push({ status: res.status, location: res.headers.get('location') })
  const session = cookiesOf(res).filter((c) => /^TWISTED_(SECURE_)?SESSION=./.test(c)).join('; ')
  if (!session) throw new Error(`the callback set no session (HTTP ${res.status}: ${await res.text()})`)
  const config = await (await fetch(`${baseURL}config`, { headers: { cookie: session } })).json() as { csrf_token: string; user: Record<string, unknown> }
  return { cookie: session, csrf: config.csrf_token, user: config.user, hops }
}

/** A JSON-RPC call on `/api/v2/<path>`: the HTTP status and the decoded body. */
export async function rpc(baseURL: string, path: string, method: string, params: Record<string, unknown>, c: Credentials): Promise<{ status: number; body: { result?: unknown; error?: { code: number; message: unknown } } }> {
  const res = await fetch(`${baseURL}api/v2/${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headersOf(c) },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
  const text = await res.text()
  let body
  try { body = JSON.parse(text) } catch { body = { error: { code: 0, message: text } } }
  return { status: res.status, body }
}

export async function get(baseURL: string, path: string, c: Credentials): Promise<{ status: number; text: string }> {
  const res = await fetch(`${baseURL}${path}`, { headers: headersOf(c) })
  return { status: res.status, text: await res.text() }
}
