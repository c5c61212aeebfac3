import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import { subjectOf } from './idp.ts'

export interface GithubAccount { login: string; name: string; email: string; orgs: string[]; teams?: { org: string; slug: string }[] }

export interface GithubStandIn {
  url: string
  /** Answers that did not match the published API description (each is also answered 500). */
  mismatches: string[]
  /** Paths of API requests served, in order. */
  served: string[]
  close(): Promise<void>
}

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: unknown; examples?: Record<string, { $ref?: string }> }> }> }>>; components: { examples: Record<string, { value: unknown }> } }

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T

/**
 * GitHub on loopback, as much as a sign-in needs: `/login/oauth/authorize` and
 * `/login/oauth/access_token` pass through to a real OAuth2 server (the identity provider; its
 * token's `sub` names the account), and the REST API answers `GET /user`, `/user/orgs`,
 * `/user/teams`, `/user/emails` with the published examples of `@octokit/openapi` filled with the
 * account's data. Every answer is validated against the operation's response schema.
 */
export async function startGithubStandIn(opts: { idp: string; accounts: Record<string, GithubAccount> }): Promise<GithubStandIn> {
  const doc = createRequire(import.meta.url)('@octokit/openapi/generated/api.github.com.json') as Doc
  const ajv = new Ajv({ strict: false, validateSchema: false, allErrors: false })
  addFormats.default(ajv)
  ajv.addSchema(doc as object, 'gh')
  const example = (path: string) => {
    const content = doc.paths[path]!.get!.responses['200']!.content['application/json']!
    const ref = Object.values(content.examples ?? {})[0]!.$ref!.replace('#/components/examples/', '')
    return clone(doc.components.examples[ref]!.value)
  }
  const validators = new Map<string, ReturnType<typeof ajv.compile>>()
  const validate = (path: string, body: unknown) => {
    let v = validators.get(path)
    if (!v) validators.set(path, v = ajv.compile({ $ref: `gh#/paths/${path.replace(/~/g, '~0').replace(/\//g, '~1')}/get/responses/200/content/application~1json/schema` }))
    return v(body) ? undefined : ajv.errorsText(v.errors)
  }
  const answers: Record<string, (a: GithubAccount) => unknown> = {
    '/user': (a) => Object.assign(example('/user') as object, { login: a.login, name: a.name, email: a.email }),
    '/user/orgs': (a) => a.orgs.map((login, i) => Object.assign((example('/user/orgs') as object[])[0]!, { login, id: i + 1, url: `https://api.github.com/orgs/${login}` })),
    '/user/teams': (a) => (a.teams ?? []).map((t, i) => {
      const team = (example('/user/teams') as Record<string, unknown>[])[0]!
      return Object.assign(team, { id: i + 1, slug: t.slug, name: t.slug, type: 'organization', organization: Object.assign({ archived_at: null }, team.organization as object, { login: t.org }) })
    }),
    '/user/emails': (a) => [Object.assign((example('/user/emails') as object[])[0]!, { email: a.email, primary: true, verified: true })],
  }
  const mismatches: string[] = []
  const served: string[] = []
  const send = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body))
  const readBody = (req: IncomingMessage) => new Promise<string>((resolve) => { let b = ''; req.on('data', (d) => { b += d }); req.on('end', () => resolve(b)) })

  const server = createServer(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://github')
    if (u.pathname === '/login/oauth/authorize' && req.method === 'GET') {
      res.writeHead(302, { location: `${opts.idp}/authorize${u.search}` }).end()
      return
    }
    if (u.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      const body = await readBody(req)
      const r = await fetch(`${opts.idp}/token`, { method: 'POST', headers: { 'content-type': String(req.headers['content-type'] ?? 'application/x-www-form-urlencoded') }, body })
      const json = await r.json().catch(() => ({})) as Record<string, unknown>
      // GitHub answers 200 with an `error` field when a code is bad.
      return send(res, 200, r.ok ? { access_token: json.access_token, token_type: 'bearer', scope: 'read:org,read:user,user:email' } : { error: 'bad_verification_code', error_description: String(json.error_description ?? json.error ?? r.status) })
    }
    const answer = req.method === 'GET' ? answers[u.pathname] : undefined
    if (!answer) return send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' })
    const token = String(req.headers.authorization ?? '').replace(/^(Bearer|token)\s+/i, '')
    const account = opts.accounts[subjectOf(token) ?? '']
    if (!account) return send(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' })
    served.push(u.pathname)
    const body = answer(account)
    const bad = validate(u.pathname, body)
    if (bad) { mismatches.push(`${u.pathname}: ${bad}`); return send(res, 500, { message: bad }) }
    return send(res, 200, body)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, mismatches, served,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()) }),
  }
}
