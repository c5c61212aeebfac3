import { spawn } from 'node:child_process'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Ajv, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => void
const DESCRIPTION = join(import.meta.dirname, '../fixtures/gitea/gitea-api.json')

interface Operation {
  operationId: string
  parameters?: { name: string; in: 'path' | 'query' | 'body' | 'header'; required?: boolean; type?: string; schema?: unknown }[]
  responses: Record<string, { $ref?: string; schema?: unknown; description?: string }>
}

export interface StandInRepo {
  owner: string; name: string; topics?: string[]; admin?: boolean; private?: boolean; defaultBranch?: string
  collaborators?: string[]
  hooks?: { id: number; type: string; active: boolean; events: string[]; config: Record<string, string> }[]
}
export interface StandInStatus { owner: string; repo: string; sha: string; state: string; context: string; description?: string; target_url?: string }

export interface GiteaStandIn {
  url: string
  port: number
  token: string
  repos: StandInRepo[]
  /** Organisation → member logins. */
  orgs: Record<string, string[]>
  statuses: StandInStatus[]
  /** Every API call, `METHOD /path?query`. */
  calls: string[]
  /** Git smart-HTTP requests that came with the token. */
  authenticatedGitRequests: number
  /** Requests or answers that the API description refused (a test expects none). */
  problems: string[]
  /** Bare repositories served over smart HTTP at `<url>/<owner>/<repo>.git` (token as the password). */
  gitRoot?: string
  /** Clone URLs given for SSH (`ssh_url`). */
  sshUrl?(owner: string, name: string): string
  /** A repository object as Gitea answers it (schema-valid). */
  repoJson(r: StandInRepo): Record<string, unknown>
  /** Checks `value` against a definition of the description; the problems found (empty: valid). */
  check(definition: string, value: unknown): string[]
  close(): Promise<void>
  /** Stops answering (connections refused) until `listen` again on the same port. */
  pause(): Promise<void>
  listen(): Promise<void>
}

/**
 * A loopback stand-in for a Gitea instance's API (the operations the Gitea plugin calls): each
 * request is checked against Gitea's published API description (path, method, parameters, body)
 * and each answer is checked against the documented response before it is sent; anything that
 * does not conform is recorded in `problems` and answered 400/500. Repositories can also be
 * cloned over smart HTTP (`git http-backend`), authenticated with the token.
 */
export async function startGiteaStandIn(o: { token: string; repos?: StandInRepo[]; orgs?: Record<string, string[]>; gitRoot?: string; sshUrl?: (owner: string, name: string) => string; port?: number }): Promise<GiteaStandIn> {
  const doc = JSON.parse(readFileSync(DESCRIPTION, 'utf8')) as { paths: Record<string, Record<string, Operation>>; responses: Record<string, { schema?: unknown }> }
  const ajv = new Ajv({ strict: false, allErrors: true })
  addFormats(ajv)
  for (const f of ['int64', 'int32', 'float', 'double', 'uint64']) ajv.addFormat(f, true)
  ajv.addSchema(doc, 'gitea')
  const compiled = new Map<string, ValidateFunction>()
  const validator = (ref: string): ValidateFunction => {
    let v = compiled.get(ref)
    if (!v) { v = ajv.compile({ $ref: `gitea${ref}` }); compiled.set(ref, v) }
    return v
  }
  const routes = Object.entries(doc.paths).flatMap(([tpl, ops]) => Object.entries(ops).filter(([m]) => m !== 'parameters').map(([method, op]) => ({
    method: method.toUpperCase(), tpl, op, names: [...tpl.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!),
    re: new RegExp('^/api/v1' + tpl.replace(/\{\w+\}/g, '([^/]+)') + '$'),
  })))

  let nextId = 100
  const s: GiteaStandIn = {
    url: '', port: 0, token: o.token, repos: o.repos ?? [], orgs: o.orgs ?? {}, statuses: [], calls: [], problems: [], authenticatedGitRequests: 0, gitRoot: o.gitRoot, sshUrl: o.sshUrl,
    repoJson(r) {
      const user = { id: 1, login: r.owner, full_name: r.owner, email: `${r.owner}@example.org`, avatar_url: `${s.url}/avatars/${r.owner}`, created: '2024-01-01T00:00:00Z' }
      return {
        id: s.repos.indexOf(r) + 1, name: r.name, full_name: `${r.owner}/${r.name}`, owner: user, private: !!r.private, fork: false, empty: false,
        default_branch: r.defaultBranch ?? 'main', description: '', html_url: `${s.url}/${r.owner}/${r.name}`,
        clone_url: `${s.url}/${r.owner}/${r.name}.git`, ssh_url: s.sshUrl ? s.sshUrl(r.owner, r.name) : `ssh://git@127.0.0.1:2222/${r.owner}/${r.name}.git`,
        permissions: { admin: r.admin !== false, push: true, pull: true }, created_at: '2024-01-01T00:00:00Z', updated_at: '2024-01-02T00:00:00Z',
      }
    },
    check(definition, value) {
      const v = validator(`#/definitions/${definition}`)
      return v(value) ? [] : (v.errors ?? []).map((e) => `${definition}${e.instancePath} ${e.message}`)
    },
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()) }),
    pause: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()) }),
    listen: () => new Promise((r) => server.listen(s.port, '127.0.0.1', () => r())),
  }
  const repo = (owner: string, name: string) => s.repos.find((r) => r.owner === owner && r.name === name)

  /** What the stand-in's Gitea does for a valid call: [status, body]. */
  function answer(id: string, p: Record<string, string>, q: URLSearchParams, body: unknown): [number, unknown] {
    const page = Number(q.get('page') ?? 1), limit = Number(q.get('limit') ?? 30)
    const paged = <T>(all: T[]) => all.slice((page - 1) * limit, page * limit)
    const r = p.owner != null ? repo(p.owner, p.repo!) : undefined
    const notFound: [number, unknown] = [404, { message: 'The target couldn\'t be found.', url: s.url }]
    switch (id) {
      case 'userGetCurrent': return [200, { id: 1, login: 'buildbot', email: 'buildbot@example.org', created: '2024-01-01T00:00:00Z' }]
      case 'userCurrentListRepos': return [200, paged(s.repos).map((x) => s.repoJson(x))]
      case 'repoListTopics': return r ? [200, { topics: r.topics ?? [] }] : notFound
      case 'repoListHooks': return r ? [200, paged(r.hooks ?? [])] : notFound
      case 'repoCreateHook': {
        if (!r) return notFound
        const b = body as { type: string; active?: boolean; events?: string[]; config: Record<string, string> }
        const hook = { id: nextId++, type: b.type, active: b.active ?? false, events: b.events ?? [], config: { url: b.config.url!, content_type: b.config.content_type ?? 'json' }, created_at: '2024-01-01T00:00:00Z', updated_at: '2024-01-01T00:00:00Z' }
        ;(r.hooks ??= []).push({ ...hook, config: { ...b.config } })
        return [201, hook]
      }
      case 'repoCreateStatus': {
        if (!r) return notFound
        const b = body as { state: string; context: string; description?: string; target_url?: string }
        s.statuses.push({ owner: p.owner!, repo: p.repo!, sha: p.sha!, ...b })
        return [201, { id: nextId++, status: b.state, context: b.context, description: b.description ?? '', target_url: b.target_url ?? '', url: `${s.url}/api/v1/repos/${p.owner}/${p.repo}/statuses/${p.sha}`, created_at: '2024-01-01T00:00:00Z', updated_at: '2024-01-01T00:00:00Z' }]
      }
      case 'orgIsMember': return [(s.orgs[p.org!] ?? []).includes(p.username!) ? 204 : 404, undefined]
      case 'repoCheckCollaborator': return r && (r.collaborators ?? []).includes(p.collaborator!) ? [204, undefined] : [404, undefined]
      case 'orgListCurrentUserOrgs': return [200, []]
      default: return [500, { message: `the stand-in does not implement ${id}` }]
    }
  }

  async function readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    return Buffer.concat(chunks)
  }

  function send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' })
    res.end(body === undefined ? undefined : JSON.stringify(body))
  }

  async function api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const call = `${req.method} ${url.pathname}${url.search}`
    s.calls.push(call)
    const raw = await readBody(req)
    if (req.headers.authorization !== `token ${s.token}`) { send(res, 401, { message: 'token is required', url: s.url }); return }
    const route = routes.find((r) => r.method === req.method && r.re.test(url.pathname))
    if (!route) { s.problems.push(`${call}: not an operation of the API description`); send(res, 404, { message: 'not found', url: s.url }); return }
    const m = route.re.exec(url.pathname)!
    const params = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]))
    const bad: string[] = []
    let body: unknown
    for (const prm of route.op.parameters ?? []) {
      if (prm.in === 'query') {
        const v = url.searchParams.get(prm.name)
        if (v == null) { if (prm.required) bad.push(`query ${prm.name} is required`); continue }
        if (prm.type === 'integer' && !/^-?\d+$/.test(v)) bad.push(`query ${prm.name} must be an integer, got ${v}`)
        if (prm.type === 'boolean' && !/^(true|false)$/.test(v)) bad.push(`query ${prm.name} must be a boolean, got ${v}`)
      } else if (prm.in === 'body') {
        if (!raw.length) { if (prm.required) bad.push('a body is required'); continue }
        try { body = JSON.parse(raw.toString('utf8')) } catch { bad.push('the body is not JSON'); continue }
        if (!/^application\/json/.test(String(req.headers['content-type']))) bad.push(`the body's content-type is ${req.headers['content-type']}, not application/json`)
        const ref = (prm.schema as { $ref?: string }).$ref
        const v = ref ? validator(ref) : ajv.compile(prm.schema as object)
        if (!v(body)) bad.push(...(v.errors ?? []).map((e) => `body${e.instancePath} ${e.message}`))
      }
    }
    for (const q of url.searchParams.keys()) if (!(route.op.parameters ?? []).some((p) => p.in === 'query' && p.name === q)) bad.push(`query ${q} is not a parameter of ${route.op.operationId}`)
    if (bad.length) { s.problems.push(`${call} (${route.op.operationId}): ${bad.join('; ')}`); send(res, 422, { message: bad.join('; '), url: s.url }); return }
    const [status, out] = answer(route.op.operationId, params, url.searchParams, body)
    const described = route.op.responses[String(status)]
    if (!described) s.problems.push(`${call}: the stand-in answered ${status}, which ${route.op.operationId} does not document`)
    else {
      const schemaRef = described.$ref ? `${described.$ref}/schema` : undefined
      if (schemaRef && doc.responses[described.$ref!.split('/').pop()!]?.schema) {
        const v = validator(schemaRef)
        if (!v(out)) s.problems.push(`${call}: the stand-in's answer does not match ${described.$ref}: ${ajv.errorsText(v.errors)}`)
      }
    }
    send(res, status, out)
  }

  /** Smart HTTP through `git http-backend`; the token is the Basic password. */
  async function git(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const auth = String(req.headers.authorization ?? '')
    const password = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString().split(':').slice(1).join(':') : ''
    if (password !== s.token) { res.writeHead(401, { 'www-authenticate': 'Basic realm="Gitea"' }); res.end('Unauthorized'); return }
    s.authenticatedGitRequests++
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH, GIT_PROJECT_ROOT: s.gitRoot, GIT_HTTP_EXPORT_ALL: '1', REQUEST_METHOD: req.method, PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1), CONTENT_TYPE: req.headers['content-type'] ?? '', REMOTE_USER: 'buildbot', REMOTE_ADDR: '127.0.0.1',
        ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) } : {}),
        ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
      },
    })
    req.pipe(cgi.stdin)
    const chunks: Buffer[] = []
    cgi.stdout.on('data', (c: Buffer) => chunks.push(c))
    await new Promise((r) => cgi.on('close', r))
    const out = Buffer.concat(chunks)
    const end = out.indexOf('\r\n\r\n')
    const head = out.subarray(0, end).toString().split('\r\n')
    let status = 200
    const headers: Record<string, string> = {}
    for (const line of head) {
      const i = line.indexOf(':')
      const k = line.slice(0, i).trim(), v = line.slice(i + 1).trim()
      if (k.toLowerCase() === 'status') status = Number.parseInt(v, 10)
      else headers[k] = v
    }
    res.writeHead(status, headers)
    res.end(out.subarray(end + 4))
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', s.url)
    const route = url.pathname.startsWith('/api/v1/') ? api : s.gitRoot && /^\/[^/]+\/[^/]+\.git\//.test(url.pathname) ? git : null
    if (!route) { res.writeHead(404); res.end(); return }
    route(req, res, url).catch((err) => { s.problems.push(`${req.method} ${req.url}: ${(err as Error).message}`); if (!res.headersSent) send(res, 500, { message: String(err) }) })
  })
  await new Promise<void>((r) => server.listen(o.port ?? 0, '127.0.0.1', () => r()))
  s.port = (server.address() as AddressInfo).port
  s.url = `http://127.0.0.1:${s.port}`
  return s
}
