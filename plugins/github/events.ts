import type { EmitterWebhookEvent } from '@octokit/webhooks'
import { z, type ChangeSpec } from '../../core/index.ts'

export type PushPayload = EmitterWebhookEvent<'push'>['payload']
export type PullRequestPayload = EmitterWebhookEvent<'pull_request'>['payload']

/** The registered project a delivery is for. */
export interface HookProject { name: string; cloneUrl: string }

const SKIP_CI = /\[(skip ci|ci skip)\]/i

// What the hook reads of a delivery, checked before anything is read: a signed delivery may still
// be malformed (another tool's payload, an event sent under the wrong name). Other fields pass.
const sha = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, { error: 'must be a commit sha' })
const text = z.string().max(100_000)
const person = z.looseObject({ name: text, email: text.nullish() })
const fullName = z.looseObject({ full_name: text })
const pushSchema = z.looseObject({
  ref: text.min(1), after: sha, deleted: z.boolean().optional(), compare: text.optional(), repository: fullName,
  pusher: z.looseObject({ name: text }).optional(),
  head_commit: z.looseObject({
    message: text, url: text.optional(), timestamp: text.optional(), author: person, committer: person,
    added: z.array(text).nullish(), modified: z.array(text).nullish(), removed: z.array(text).nullish(),
  }).nullish(),
})
const side = z.looseObject({ sha, ref: text, repo: fullName.nullish() })
const pullRequestSchema = z.looseObject({
  action: text, repository: fullName, sender: z.looseObject({ login: text }).nullish(),
  pull_request: z.looseObject({
    number: z.number().int().min(1).max(2 ** 31 - 1), title: text.nullish(), html_url: text.nullish(),
    user: z.looseObject({ login: text }).nullish(), head: side, base: side,
  }),
})

function check<T>(schema: z.ZodType, event: string, p: unknown): T | string {
  const r = schema.safeParse(p)
  if (r.success) return p as T
  const issue = r.error.issues[0]!
  return `a ${event} delivery needs ${issue.path.join('.') || 'an object'}: ${issue.message}`
}

/** The delivery as a push, or what is wrong with it (a 400). */
export const parsePush = (p: unknown): PushPayload | string => check<PushPayload>(pushSchema, 'push', p)
/** The delivery as a pull request event, or what is wrong with it (a 400). */
export const parsePullRequest = (p: unknown): PullRequestPayload | string => check<PullRequestPayload>(pullRequestSchema, 'pull_request', p)

/**
 * A push as a change (one per push: the head commit, which is what gets evaluated), or why it is
 * ignored: branch deletions, tags (unless `buildTags`), and a head commit saying `[skip ci]`.
 */
export function pushChange(p: PushPayload, project: HookProject, opts: { buildTags: boolean }): ChangeSpec | string {
  if (p.deleted) return `${p.ref} was deleted`
  const tag = p.ref.startsWith('refs/tags/')
  if (tag && !opts.buildTags) return `${p.ref} is a tag (set buildTags to build tags)`
  if (!tag && !p.ref.startsWith('refs/heads/')) return `${p.ref} is not a branch`
  const head = p.head_commit
  if (head && SKIP_CI.test(head.message)) return `the head commit says [skip ci]`
  const files = head ? [...head.added ?? [], ...head.modified ?? [], ...head.removed ?? []] : []
  return {
    author: head ? `${head.author.name} <${head.author.email ?? ''}>` : p.pusher.name,
    committer: head ? `${head.committer.name} <${head.committer.email ?? ''}>` : null,
    comments: head?.message ?? '', branch: p.ref.replace(/^refs\/(heads|tags)\//, ''), revision: p.after,
    revlink: head?.url ?? p.compare, when_timestamp: head ? Math.floor(Date.parse(head.timestamp) / 1000) || undefined : undefined,
    category: tag ? 'tag' : 'push', repository: project.cloneUrl, project: project.name, files,
    properties: { event: 'push', github_repository: p.repository.full_name },
  }
}

/** The pull-request actions that make a change (a new head or a reopened pull request); title and text edits do not. */
export const BUILT_PR_ACTIONS: ReadonlySet<string> = new Set(['opened', 'reopened', 'synchronize'])

/**
 * A pull request as the Nix plugin's pull-request path reads it: category `pull`, the head as
 * revision and base and head revisions as properties (the evaluation merges them). The branch is
 * `refs/pull/<n>/head`, the ref GitHub always has for a pull request (a fork's commits are
 * fetched through it; `refs/pull/<n>/merge` is missing while GitHub computes it or when the pull
 * request conflicts). `trusted` is the plugin's word on the author.
 */
export function pullRequestChange(p: PullRequestPayload, project: HookProject, trust: { trusted: boolean; reason: string }): ChangeSpec {
  const pr = p.pull_request
  return {
    author: pr.user?.login ?? p.sender?.login ?? 'unknown', comments: `Pull request #${pr.number}: ${pr.title}`,
    branch: `refs/pull/${pr.number}/head`, revision: pr.head.sha, revlink: pr.html_url, category: 'pull',
    repository: project.cloneUrl, project: project.name,
    properties: {
      event: 'pull_request', pr_number: pr.number, base_sha: pr.base.sha, head_sha: pr.head.sha,
      base_branch: pr.base.ref, head_branch: pr.head.ref, head_repository: pr.head.repo?.full_name ?? null,
      'github.base.sha': pr.base.sha, 'github.head.sha': pr.head.sha, pullrequesturl: pr.html_url, basename: pr.base.ref,
      trust: trust.trusted ? `trusted: ${trust.reason}` : `untrusted: ${trust.reason}`,
    },
    trusted: trust.trusted,
  }
}
