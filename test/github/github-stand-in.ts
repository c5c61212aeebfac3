import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { importSPKI, jwtVerify } from 'jose'
import { createOpenApiValidator, type OpenApiValidator, type Operation } from './openapi-validator.ts'

/** A repository the stand-in's App is installed on. */
export interface StandInRepo {
  owner: string
  ownerType?: 'Organization' | 'User'
  name: string
  /** What `clone_url` says: a local git repository in the tests. */
  cloneUrl: string
  topics?: string[]
  defaultBranch?: string
  private?: boolean
  installationId: number
}

/** One request the stand-in got. */
export interface SeenRequest { method: string; path: string; query: string; operationId: string | null; status: number; body: unknown }

/** An answer the test makes the stand-in give instead of the normal one. */
export interface InjectedAnswer { status: number; headers?: Record<string, string>; body?: unknown }

type Handler = (a: { path: Record<string, string>; query: URLSearchParams; body: any; installationId: number | null }) => { status: number; body?: unknown; headers?: Record<string, string> }

/**
 * A loopback stand-in for GitHub's REST API, as far as a GitHub App uses it. Every request is
 * checked against GitHub's published description (`@octokit/openapi`): unknown operations,
 * parameters and bodies that do not fit are answered 422 and recorded in `violations`; every
 * answer it gives is validated against the documented response schema too (built from GitHub's
 * own examples). App endpoints need the App's JWT (RS256, verified with its public key), the
 * others an installation token it issued (expired or revoked: 401).
 */
export async function startGitHubStandIn(opts: { appId?: number; tokenLifetimeMs?: number; validator?: OpenApiValidator } = {}) {
  const v = opts.validator ?? createOpenApiValidator()
  const appId = opts.appId ?? 4242
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const privateKeyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()
  const verifyKey = await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'RS256')

  const repos: StandInRepo[] = []
  const owners = new Map<string, 'Organization' | 'User'>()
  const members = new Map<string, Set<string>>()
  const collaborators = new Map<string, Set<string>>()
  const hooks = new Map<string, any[]>()
  const statuses: { repo: string; sha: string; body: Record<string, any> }[] = []
  const checkRuns = new Map<number, { repo: string; body: Record<string, any> }>()
  const tokens = new Map<string, { installationId: number; expiresAt: number; revoked: boolean }>()
  const requests: SeenRequest[] = []
  const violations: string[] = []
  const injected: { match: (r: { method: string; path: string }) => boolean; answers: InjectedAnswer[] }[] = []
  let nextId = 1000
  const state = { down: false, tokenLifetimeMs: opts.tokenLifetimeMs ?? 3600_000 }

  const iso = (ms = Date.now()) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z')
  const fullName = (r: StandInRepo) => `${r.owner}/${r.name}`
  const findRepo = (owner: string, repo: string) => repos.find((r) => fullName(r).toLowerCase() === `${owner}/${repo}`.toLowerCase())
  const account = (login: string) => {
    const a = v.example('installation').account
    return { ...a, login, id: Math.abs(hash(login)), node_id: `MDQ6${login}`, type: owners.get(login) ?? 'User',
      html_url: `https://github.com/${login}`, url: `https://api.github.com/users/${login}`, avatar_url: `https://github.com/images/${login}.gif` }
  }
  const installationJson = (id: number) => {
    const login = repos.find((r) => r.installationId === id)?.owner ?? 'nobody'
    const inst = v.example('installation')
    return { ...inst, id, app_id: appId, account: account(login), target_id: account(login).id, target_type: owners.get(login) ?? 'User' }
  }
  const repoJson = (r: StandInRepo) => {
    const base = v.example('repository-paginated-2').repositories[0]
    return {
      ...base, id: Math.abs(hash(fullName(r))), name: r.name, full_name: fullName(r), private: !!r.private, owner: account(r.owner),
      html_url: `https://github.com/${fullName(r)}`, clone_url: r.cloneUrl, default_branch: r.defaultBranch ?? 'main', topics: r.topics ?? [],
      description: `the ${r.name} repository`, archived: false,
    }
  }
  const installationIds = () => [...new Set(repos.map((r) => r.installationId))].sort((a, b) => a - b)
  const notFound = { status: 404, body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' } }
  const page = (list: unknown[], query: URLSearchParams, path: string) => {
    const per = Math.min(100, Number(query.get('per_page') ?? 30))
    const n = Math.max(1, Number(query.get('page') ?? 1))
    const headers: Record<string, string> = {}
    if (n * per < list.length) {
      const next = new URLSearchParams(query); next.set('page', String(n + 1))
      headers.link = `<${url}${path}?${next}>; rel="next"`
    }
    return { items: list.slice((n - 1) * per, n * per), headers }
  }

  const handlers: Record<string, Handler> = {
    'apps/list-installations': ({ query }) => {
      // GitHub's description of this list says the account is a user AND an enterprise (allOf): only null fits.
      const p = page(installationIds().map((id) => ({ ...installationJson(id), account: null })), query, '/app/installations')
      return { status: 200, body: p.items, headers: p.headers }
    },
    'apps/create-installation-access-token': ({ path }) => {
      const id = Number(path.installation_id)
      if (!installationIds().includes(id)) return notFound
      const token = `ghs_${randomBytes(18).toString('hex')}`
      const expiresAt = Date.now() + state.tokenLifetimeMs
      tokens.set(token, { installationId: id, expiresAt, revoked: false })
      return { status: 201, body: { ...v.example('installation-token'), token, expires_at: iso(expiresAt), repositories: undefined } }
    },
    'apps/list-repos-accessible-to-installation': ({ query, installationId }) => {
      const mine = repos.filter((r) => r.installationId === installationId).map(repoJson)
      const p = page(mine, query, '/installation/repositories')
      return { status: 200, body: { total_count: mine.length, repository_selection: 'selected', repositories: p.items }, headers: p.headers }
    },
    'apps/get-repo-installation': ({ path }) => {
      const r = findRepo(path.owner!, path.repo!)
      return r ? { status: 200, body: installationJson(r.installationId) } : notFound
    },
    'repos/list-webhooks': ({ path, query, installationId }) => {
      const r = findRepo(path.owner!, path.repo!)
      if (!r || r.installationId !== installationId) return notFound
      const p = page(hooks.get(fullName(r)) ?? [], query, `/repos/${fullName(r)}/hooks`)
      return { status: 200, body: p.items, headers: p.headers }
    },
    'repos/create-webhook': ({ path, body, installationId }) => {
      const r = findRepo(path.owner!, path.repo!)
      if (!r || r.installationId !== installationId) return notFound
      const id = nextId++
      const hook = { ...v.example('hook'), id, name: 'web', active: body.active ?? true, events: body.events ?? ['push'],
        config: { url: body.config.url, content_type: body.config.content_type ?? 'form', insecure_ssl: body.config.insecure_ssl ?? '0' } }
      hooks.set(fullName(r), [...hooks.get(fullName(r)) ?? [], { ...hook, secret: body.config.secret }])
      return { status: 201, body: hook }
    },
    'repos/create-commit-status': ({ path, body, installationId }) => {
      const r = findRepo(path.owner!, path.repo!)
      if (!r || r.installationId !== installationId) return notFound
      statuses.push({ repo: fullName(r), sha: path.sha!, body })
      return { status: 201, body: { ...v.example('status'), id: nextId++, state: body.state, context: body.context ?? 'default', description: body.description ?? null, target_url: body.target_url ?? null } }
    },
    'orgs/check-membership-for-user': ({ path }) => (members.get(path.org!)?.has(path.username!) ? { status: 204 } : notFound),
    'repos/check-collaborator': ({ path }) => (collaborators.get(`${path.owner}/${path.repo}`.toLowerCase())?.has(path.username!) ? { status: 204 } : notFound),
    'checks/create': ({ path, body, installationId }) => {
      const r = findRepo(path.owner!, path.repo!)
      if (!r || r.installationId !== installationId) return notFound
      const id = nextId++
      checkRuns.set(id, { repo: fullName(r), body: { ...body } })
      return { status: 201, body: checkRunJson(id) }
    },
    'checks/update': ({ path, body, installationId }) => {
      const run = checkRuns.get(Number(path.check_run_id))
      const r = findRepo(path.owner!, path.repo!)
      if (!run || !r || r.installationId !== installationId || run.repo !== fullName(r)) return notFound
      Object.assign(run.body, body)
      return { status: 200, body: checkRunJson(Number(path.check_run_id)) }
    },
  }
  const checkRunJson = (id: number) => {
    const run = checkRuns.get(id)!
    const ex = v.example('check-run')
    return {
      ...ex, id, head_sha: run.body.head_sha, name: run.body.name, status: run.body.status ?? 'queued', conclusion: run.body.conclusion ?? null,
      details_url: run.body.details_url ?? null, external_id: run.body.external_id ?? null,
      output: { ...ex.output, title: run.body.output?.title ?? null, summary: run.body.output?.summary ?? null, text: run.body.output?.text ?? null },
    }
  }

  async function authenticate(op: Operation, header: string | undefined): Promise<{ ok: true; installationId: number | null } | { ok: false; why: string }> {
    const appEndpoint = op.template.startsWith('/app') || op.template === '/repos/{owner}/{repo}/installation'
    if (appEndpoint) {
      const m = /^bearer (.+)$/i.exec(header ?? '')
      if (!m) return { ok: false, why: 'A JSON web token could not be decoded' }
      try {
        const { payload } = await jwtVerify(m[1]!, verifyKey, { algorithms: ['RS256'], clockTolerance: 120 })
        if (String(payload.iss) !== String(appId)) return { ok: false, why: `'Issuer' claim ('iss') must be ${appId}` }
        return { ok: true, installationId: null }
      } catch (err) { return { ok: false, why: `bad JWT: ${(err as Error).message}` } }
    }
    const m = /^token (.+)$/i.exec(header ?? '')
    const t = m ? tokens.get(m[1]!) : undefined
    if (!t || t.revoked || t.expiresAt <= Date.now()) return { ok: false, why: 'Bad credentials' }
    return { ok: true, installationId: t.installationId }
  }

  async function handle(req: IncomingMessage, raw: string): Promise<{ status: number; body?: unknown; headers?: Record<string, string>; op: Operation | null }> {
    const u = new URL(req.url ?? '/', 'http://x')
    const method = req.method ?? 'GET'
    const found = v.find(method, u.pathname)
    if (!found) {
      violations.push(`${method} ${u.pathname}: no such operation in GitHub's REST description`)
      return { status: 404, body: { message: 'Not Found' }, op: null }
    }
    const { op, path } = found
    const hasBody = raw.length > 0
    let body: unknown
    if (hasBody) {
      try { body = JSON.parse(raw) } catch { violations.push(`${method} ${u.pathname}: body is not JSON`); return { status: 400, body: { message: 'Problems parsing JSON' }, op } }
    }
    const problems = v.checkRequest(op, path, u.searchParams, body, hasBody)
    if (problems.length) {
      violations.push(`${method} ${u.pathname} (${op.operationId}): ${problems.join('; ')}`)
      return { status: 422, body: { message: 'Validation Failed', errors: problems }, op }
    }
    for (const inj of injected) {
      if (inj.answers.length && inj.match({ method, path: u.pathname })) {
        const a = inj.answers.shift()!
        return { status: a.status, body: a.body ?? { message: a.status === 403 ? 'forbidden' : 'injected answer', documentation_url: 'https://docs.github.com/rest' }, headers: a.headers, op }
      }
    }
    if (state.down) return { status: 503, body: { message: 'Service Unavailable' }, op }
    const auth = await authenticate(op, req.headers.authorization)
    if (!auth.ok) return { status: 401, body: { message: auth.why, documentation_url: 'https://docs.github.com/rest' }, op }
    const h = handlers[op.operationId]
    if (!h) {
      violations.push(`${method} ${u.pathname}: ${op.operationId} is valid but the stand-in does not implement it`)
      return { status: 501, body: { message: 'not implemented by the stand-in' }, op }
    }
    const out = h({ path, query: u.searchParams, body, installationId: auth.installationId })
    if (out.status < 400) {
      const bad = v.checkResponse(op, out.status, out.body)
      if (bad.length) violations.push(`stand-in answer to ${op.operationId}: ${bad.join('; ')}`)
    }
    return { ...out, op }
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = ''
    req.setEncoding('utf8').on('data', (d: string) => { raw += d }).on('end', () => {
      handle(req, raw).then((out) => {
        const u = new URL(req.url ?? '/', 'http://x')
        requests.push({ method: req.method ?? 'GET', path: u.pathname, query: u.search, operationId: out.op?.operationId ?? null, status: out.status, body: raw ? JSON.parse(raw) : undefined })
        const headers: Record<string, string> = { 'x-github-media-type': 'github.v3', 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '4999', ...out.headers }
        if (out.body !== undefined) headers['content-type'] = 'application/json; charset=utf-8'
        res.writeHead(out.status, headers).end(out.body === undefined ? undefined : JSON.stringify(out.body))
      }).catch((err) => { violations.push(`stand-in crashed: ${(err as Error).stack}`); res.writeHead(500).end() })
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    url, appId, privateKeyPem, repos, hooks, statuses, checkRuns, tokens, requests, violations, state,
    addRepo(r: StandInRepo) { repos.push(r); owners.set(r.owner, r.ownerType ?? 'User') },
    removeRepo(name: string) { const i = repos.findIndex((r) => fullName(r) === name); if (i >= 0) repos.splice(i, 1) },
    addMember(org: string, user: string) { members.set(org, new Set([...members.get(org) ?? [], user])) },
    addCollaborator(repo: string, user: string) { collaborators.set(repo.toLowerCase(), new Set([...collaborators.get(repo.toLowerCase()) ?? [], user])) },
    revokeTokens() { for (const t of tokens.values()) t.revoked = true },
    /** The next requests matching `match` get these answers, in order. */
    inject(match: (r: { method: string; path: string }) => boolean, ...answers: InjectedAnswer[]) { injected.push({ match, answers }) },
    /** Statuses of a commit: the last body per context. */
    statusesOf(sha: string): Map<string, Record<string, any>> {
      const m = new Map<string, Record<string, any>>()
      for (const s of statuses) if (s.sha === sha) m.set(s.body.context, s.body)
      return m
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

export type GitHubStandIn = Awaited<ReturnType<typeof startGitHubStandIn>>

function hash(s: string): number {
  let h = 7
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) | 0
  return h || 1
}
