import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { subjectOf } from './idp.ts'

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => void
/** Gitea's published API description (swagger 2.0), kept with the Gitea plugin's test fixtures. */
const DESCRIPTION = join(import.meta.dirname, '../../../test/fixtures/gitea/gitea-api.json')

export interface GiteaAccount { login: string; full_name: string; email: string; orgs: string[] }
export interface GiteaSignInStandIn { url: string; mismatches: string[]; served: string[]; close(): Promise<void> }

/**
 * A Gitea instance on loopback, as much as a sign-in needs: `/login/oauth/authorize` and
 * `/login/oauth/access_token` pass through to a real OAuth2 server (its token's `sub` names the
 * account); `GET /api/v1/user` and `/api/v1/user/orgs` answer the account, each answer validated
 * against the `User` and `Organization` definitions of Gitea's API description.
 */
export async function startGiteaSignInStandIn(opts: { idp: string; accounts: Record<string, GiteaAccount> }): Promise<GiteaSignInStandIn> {
  const doc = JSON.parse(readFileSync(DESCRIPTION, 'utf8')) as object
  const ajv = new Ajv({ strict: false, allErrors: true })
  addFormats(ajv)
  for (const f of ['int64', 'int32', 'float', 'double', 'uint64']) ajv.addFormat(f, true)
  ajv.addSchema(doc, 'gitea')
  const user = ajv.compile({ $ref: 'gitea#/definitions/User' })
  const orgs = ajv.compile({ type: 'array', items: { $ref: 'gitea#/definitions/Organization' } })
  const mismatches: string[] = [], served: string[] = []
  const send = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  const readBody = (req: IncomingMessage) => new Promise<string>((resolve) => { let b = ''; req.on('data', (d) => { b += d }); req.on('end', () => resolve(b)) })
  const server = createServer(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://gitea')
    if (u.pathname === '/login/oauth/authorize') { res.writeHead(302, { location: `${opts.idp}/authorize${u.search}` }).end(); return }
    if (u.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      const r = await fetch(`${opts.idp}/token`, { method: 'POST', headers: { 'content-type': String(req.headers['content-type']) }, body: await readBody(req) })
      const json = await r.json().catch(() => ({})) as Record<string, unknown>
      return send(res, r.status, r.ok ? { access_token: json.access_token, token_type: 'bearer', expires_in: 3600 } : { error: 'invalid_grant', error_description: String(json.error_description ?? json.error ?? r.status) })
    }
    const token = String(req.headers.authorization ?? '').replace(/^(token|Bearer)\s+/i, '')
    const a = opts.accounts[subjectOf(token) ?? '']
    if (!a) return send(res, 401, { message: 'user does not exist', url: 'http://gitea' })
    let body: unknown, v
    if (u.pathname === '/api/v1/user') {
      body = { id: 1, login: a.login, full_name: a.full_name, email: a.email, avatar_url: 'http://gitea/avatars/1', created: '2024-01-01T00:00:00Z', is_admin: false }
      v = user
    } else if (u.pathname === '/api/v1/user/orgs') {
      body = a.orgs.map((name, i) => ({ id: i + 10, name, username: name, full_name: name, avatar_url: `http://gitea/avatars/${name}`, visibility: 'public' }))
      v = orgs
    } else return send(res, 404, { message: 'not found', url: 'http://gitea' })
    served.push(u.pathname)
    if (!v(body)) { mismatches.push(`${u.pathname}: ${ajv.errorsText(v.errors)}`); return send(res, 500, { message: 'mismatch' }) }
    return send(res, 200, body)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, mismatches, served, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()) }) }
}
