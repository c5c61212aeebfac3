import { createHmac, timingSafeEqual } from 'node:crypto'
import { z, type ChangeSpec, type ProjectEntity } from '../../core/index.ts'
import { decidePullRequestTrust, type DeliveryDedup } from '../forge/index.ts'

type Headers = Record<string, string | string[] | undefined>
type Answer = { status: number; body: string }

const header = (h: Headers, ...names: string[]): string | undefined => {
  for (const n of names) { const v = h[n]; if (v != null) return Array.isArray(v) ? v[0] : v }
  return undefined
}

/** Gitea signs the raw body: `X-Gitea-Signature` (Forgejo: `X-Forgejo-Signature`), hex HMAC-SHA256. */
export function signatureValid(headers: Headers, body: Buffer, secret: string): boolean {
  const got = header(headers, 'x-gitea-signature', 'x-forgejo-signature') ?? (header(headers, 'x-hub-signature-256') ?? '').replace(/^sha256=/, '')
  if (!got) return false
  const want = createHmac('sha256', secret).update(body).digest('hex')
  return got.length === want.length && timingSafeEqual(Buffer.from(got), Buffer.from(want))
}

// What the hook reads of a delivery, checked before anything is read (other fields pass): a
// signed delivery may still be malformed, and a wrong type must be a 400, not a stored object.
const text = z.string().max(100_000)
const repoSchema = z.looseObject({ full_name: text.optional(), name: text.optional(), owner: z.looseObject({ login: text.optional() }).nullish() })
const userSchema = z.looseObject({ login: text.nullish(), username: text.nullish(), full_name: text.nullish(), email: text.nullish() })
const pushSchema = z.looseObject({
  ref: text.optional(), before: text.optional(), after: text.optional(), compare_url: text.nullish(), repository: repoSchema.optional(),
  pusher: userSchema.nullish(), sender: userSchema.nullish(),
  head_commit: z.looseObject({
    id: text.optional(), message: text.optional(), url: text.nullish(), timestamp: text.nullish(),
    author: z.looseObject({ name: text.nullish(), email: text.nullish() }).nullish(),
    added: z.array(text).nullish(), removed: z.array(text).nullish(), modified: z.array(text).nullish(),
  }).nullish(),
})
const sideSchema = z.looseObject({ ref: text.optional(), sha: text.optional(), repo: repoSchema.nullish() })
const prSchema = z.looseObject({
  action: text.optional(), number: z.number().int().min(1).max(2 ** 31 - 1).optional(), repository: repoSchema.optional(), sender: userSchema.nullish(),
  pull_request: z.looseObject({
    number: z.number().int().min(1).max(2 ** 31 - 1).optional(), title: text.nullish(), html_url: text.nullish(), user: userSchema.nullish(),
    head: sideSchema.nullish(), base: sideSchema.nullish(),
  }).nullish(),
})
type UserPayload = z.infer<typeof userSchema>
type PushPayload = z.infer<typeof pushSchema>
type PrPayload = z.infer<typeof prSchema>

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/
/** Pull-request actions that change what is built; an edited title or a label does not. */
const BUILD_ACTIONS = new Set(['opened', 'reopened', 'synchronized', 'synchronize'])

export interface GiteaHookDeps {
  secret(): Promise<string>
  /** The registered project of a repository (`owner/repo`) this plugin discovered, if any. */
  project(fullName: string): Promise<ProjectEntity | undefined>
  addChange(spec: ChangeSpec): Promise<unknown>
  dedup: DeliveryDedup
  /** Whether a user may write to a repository (for pull requests from forks). */
  canWrite(owner: string, repo: string, user: string): Promise<boolean>
  /** Whether a user is a member of an organisation. */
  isOrgMember(org: string, user: string): Promise<boolean>
}

const who = (u?: UserPayload | null) => u?.login ?? u?.username ?? ''

/**
 * `/change_hook/gitea`: checks the signature (missing or wrong: 403, nothing stored), then turns
 * a push into a change of its branch and a pull request into a change of its head with the base
 * (`base_sha`, `head_sha`: the Nix plugin evaluates their merge). Only a new head builds: an
 * edited title or a label change answers 200 and adds nothing; the same delivery twice adds one
 * change.
 */
export async function handleGiteaHook(deps: GiteaHookDeps, req: { headers: Headers; rawBody: Buffer }): Promise<Answer> {
  const secret = await deps.secret()
  if (!header(req.headers, 'x-gitea-signature', 'x-forgejo-signature', 'x-hub-signature-256')) return { status: 403, body: 'missing X-Gitea-Signature: set the webhook secret in Gitea' }
  if (!signatureValid(req.headers, req.rawBody, secret)) return { status: 403, body: 'bad signature: the webhook secret differs from webhookSecretFile' }
  const event = header(req.headers, 'x-gitea-event', 'x-forgejo-event', 'x-gogs-event')
  if (!event) return { status: 400, body: 'missing X-Gitea-Event' }
  if (event !== 'push' && event !== 'pull_request') return { status: 200, body: `ignored event '${event}'` }
  let raw: unknown
  try { raw = JSON.parse(req.rawBody.toString('utf8')) } catch { return { status: 400, body: 'the body is not JSON' } }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { status: 400, body: 'the body must be a JSON object' }
  const parsed = (event === 'push' ? pushSchema : prSchema).safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    return { status: 400, body: `a ${event} delivery's '${issue.path.join('.')}': ${issue.message}` }
  }
  const payload = parsed.data as PushPayload & PrPayload
  const fullName = payload.repository?.full_name
  if (typeof fullName !== 'string' || !fullName.includes('/')) return { status: 400, body: "'repository.full_name' is required" }
  const project = await deps.project(fullName)
  if (!project) return { status: 404, body: `'${fullName}' is not a project of this master (does it have the topic, and was it discovered? reload the projects)` }

  const spec = event === 'push' ? pushChange(payload, project) : await pullRequestChange(deps, payload, project, fullName)
  if (typeof spec === 'string') return { status: 400, body: spec }
  if (!spec) return { status: 200, body: 'no change' }
  const delivery = header(req.headers, 'x-gitea-delivery', 'x-forgejo-delivery', 'x-gogs-delivery')
  const r = await deps.dedup.run(delivery, async () => { await deps.addChange(spec); return true })
  return { status: 200, body: r.duplicate ? 'delivery already handled' : '1 change found' }
}

function pushChange(p: PushPayload, project: ProjectEntity): ChangeSpec | string | null {
  if (typeof p.ref !== 'string') return "'ref' is required"
  if (!p.ref.startsWith('refs/heads/')) return null
  if (typeof p.after !== 'string' || !SHA.test(p.after)) return "'after' must be a commit sha"
  if (/^0+$/.test(p.after)) return null
  const c = p.head_commit ?? undefined
  const author = c?.author?.name ? `${c.author.name} <${c.author.email ?? ''}>` : who(p.pusher) || who(p.sender)
  const when = c?.timestamp ? Math.floor(Date.parse(c.timestamp) / 1000) : NaN
  return {
    author, revision: p.after, branch: p.ref.slice('refs/heads/'.length), category: 'push', repository: project.clone_url ?? '',
    project: project.name, comments: c?.message ?? '', revlink: c?.url ?? undefined,
    when_timestamp: Number.isFinite(when) ? when : undefined,
    files: [...(c?.added ?? []), ...(c?.modified ?? []), ...(c?.removed ?? [])].filter((f) => typeof f === 'string'),
    properties: { event: 'push' }, trusted: true,
  }
}

async function pullRequestChange(deps: GiteaHookDeps, p: PrPayload, project: ProjectEntity, fullName: string): Promise<ChangeSpec | string | null> {
  const pr = p.pull_request
  if (!pr || typeof p.action !== 'string') return "'action' and 'pull_request' are required"
  if (!BUILD_ACTIONS.has(p.action)) return null
  const n = pr.number ?? p.number
  const head = pr.head, base = pr.base
  if (!Number.isInteger(n) || !head?.sha || !base?.sha || !SHA.test(head.sha) || !SHA.test(base.sha) || typeof base.ref !== 'string') {
    return "'pull_request' needs a number and head and base with a sha (and the base's ref)"
  }
  const author = who(pr.user) || who(p.sender)
  const [owner, repo] = [fullName.split('/')[0]!, fullName.split('/').slice(1).join('/')]
  const trust = await decidePullRequestTrust({
    author, baseRepo: fullName, headRepo: head.repo?.full_name ?? null,
    isOrgMember: () => deps.isOrgMember(owner, author),
    isCollaborator: () => deps.canWrite(owner, repo, author),
  })
  return {
    author, revision: head.sha, branch: `refs/pull/${n}/head`, category: 'pull', repository: project.clone_url ?? '', project: project.name,
    comments: `Pull request #${n}${pr.title ? `: ${pr.title}` : ''}`, revlink: pr.html_url ?? undefined,
    properties: {
      event: 'pull_request', pr_number: n, base_sha: base.sha, head_sha: head.sha, base_branch: base.ref, head_branch: head.ref ?? '',
      head_repository: head.repo?.full_name ?? fullName, pr_trust: trust.reason,
    },
    trusted: trust.trusted,
  }
}
