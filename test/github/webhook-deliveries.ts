import { createHmac, randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const examples = require('@octokit/webhooks-examples') as { name: string; examples: Record<string, any>[] }[]

/** A payload from `@octokit/webhooks-examples` (GitHub's documented deliveries), copied. */
export function example(event: string, pick: (p: Record<string, any>) => boolean = () => true): Record<string, any> {
  const found = examples.find((e) => e.name === event)?.examples.find(pick)
  if (!found) throw new Error(`no '${event}' example in @octokit/webhooks-examples`)
  return structuredClone(found)
}

/** The repository parts of a payload for `owner/name`. */
function repository(p: Record<string, any>, fullName: string, ownerType: 'Organization' | 'User' = 'Organization') {
  const [owner, name] = fullName.split('/') as [string, string]
  p.name = name
  p.full_name = fullName
  p.owner = { ...p.owner, login: owner, type: ownerType }
  return p
}

/** A push of `after` to `ref` (from the example of a branch push). */
export function pushPayload(o: { repo: string; ref?: string; after: string; before?: string; message?: string; installationId?: number; deleted?: boolean }): Record<string, any> {
  const p = example('push', (x) => x.ref.startsWith('refs/heads/') && !x.deleted && x.head_commit)
  p.ref = o.ref ?? 'refs/heads/main'
  p.after = o.after
  p.before = o.before ?? '0'.repeat(40)
  p.deleted = !!o.deleted
  p.head_commit = o.deleted ? null : { ...p.head_commit, id: o.after, tree_id: o.after, message: o.message ?? 'a change' }
  p.commits = p.head_commit ? [p.head_commit] : []
  repository(p.repository, o.repo)
  delete p.installation
  if (o.installationId != null) p.installation = { id: o.installationId, node_id: 'MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ==' }
  return p
}

/** A pull request event (from the example of its action). */
export function pullRequestPayload(o: {
  action: string; repo: string; number: number; author: string; base: { ref: string; sha: string }; head: { ref: string; sha: string; repo?: string | null }
  ownerType?: 'Organization' | 'User'; title?: string; installationId?: number
}): Record<string, any> {
  // Actions without an example of their own (edited) reuse the opened one.
  let p: Record<string, any>
  try { p = example('pull_request', (x) => x.action === o.action) } catch { p = { ...example('pull_request', (x) => x.action === 'opened'), action: o.action } }
  p.number = o.number
  const pr = p.pull_request
  pr.number = o.number
  pr.title = o.title ?? `pull request ${o.number}`
  pr.user = { ...pr.user, login: o.author }
  pr.html_url = `https://github.com/${o.repo}/pull/${o.number}`
  pr.base = { ...pr.base, ref: o.base.ref, sha: o.base.sha, repo: repository(structuredClone(pr.base.repo), o.repo, o.ownerType) }
  const headRepo = o.head.repo === undefined ? o.repo : o.head.repo
  pr.head = { ...pr.head, ref: o.head.ref, sha: o.head.sha, repo: headRepo ? repository(structuredClone(pr.head.repo ?? pr.base.repo), headRepo, 'User') : null }
  repository(p.repository, o.repo, o.ownerType)
  p.sender = { ...p.sender, login: o.author }
  // The examples' installation ids are not the stand-in's.
  delete p.installation
  if (o.installationId != null) p.installation = { id: o.installationId, node_id: 'MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ==' }
  return p
}

/** Sends a delivery to `/change_hook/github`, signed as GitHub signs it (`X-Hub-Signature-256` over the raw body). */
export async function deliver(hookUrl: string, event: string, payload: unknown, o: { secret?: string; id?: string; signature?: string | null; body?: string } = {}): Promise<{ status: number; text: string }> {
  const body = o.body ?? JSON.stringify(payload)
  const headers: Record<string, string> = {
    'content-type': 'application/json', 'user-agent': 'GitHub-Hookshot/test', 'x-github-event': event,
    'x-github-delivery': o.id ?? randomUUID(), 'x-github-hook-id': '1',
  }
  const sig = o.signature === undefined ? `sha256=${createHmac('sha256', o.secret ?? '').update(body).digest('hex')}` : o.signature
  if (sig !== null) headers['x-hub-signature-256'] = sig
  const res = await fetch(hookUrl, { method: 'POST', headers, body })
  return { status: res.status, text: await res.text() }
}
