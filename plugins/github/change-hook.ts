import type { Webhooks } from '@octokit/webhooks'
import type { ChangeHookHandler, PluginRuntime } from '../../core/index.ts'
import type { DeliveryDedup, PullRequestTrust } from '../forge/index.ts'
import { BUILT_PR_ACTIONS, parsePullRequest, parsePush, pullRequestChange, pushChange, type HookProject, type PullRequestPayload } from './events.ts'

type Answer = { status: number; body: string }

/** What the `/change_hook/github` handler needs from the running plugin. */
export interface GitHubHookDeps {
  /** The running plugin (undefined before start and after stop: 503). */
  running(): { rt: PluginRuntime; webhooks: Webhooks } | undefined
  dedup: DeliveryDedup
  buildTags: boolean
  /** Whether a pull request builds trusted (same repository, member, collaborator, listed). */
  trust(p: PullRequestPayload): Promise<PullRequestTrust>
  /** Installations or their repositories changed: discover again. */
  repositoriesChanged(reason: string): void
  /** A webhook names the installation of a repository. */
  rememberRepo(fullName: string, installationId: number): void
  /** A pull request was closed: cancel what is still running for it. */
  pullRequestClosed(p: PullRequestPayload, project: HookProject): Promise<number>
  /** Other events a feature of the plugin handles (Check Run actions). */
  extra?(event: string, payload: Record<string, unknown>): Promise<Answer | undefined>
}

const header = (h: Record<string, string | string[] | undefined>, name: string): string | undefined => {
  const v = h[name]
  return Array.isArray(v) ? v[0] : v
}

/** The JSON payload of a delivery: a JSON body, or the `payload` field of a form (GitHub's other content type). */
function parsePayload(raw: Buffer, contentType: string): Record<string, unknown> | string {
  let text = raw.toString('utf8')
  if (contentType.startsWith('application/x-www-form-urlencoded')) {
    const p = new URLSearchParams(text).get('payload')
    if (p == null) return "a form delivery needs a 'payload' field"
    text = p
  }
  try {
    const v = JSON.parse(text) as unknown
    return v && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : 'the payload must be a JSON object'
  } catch { return 'the payload is not valid JSON' }
}

/**
 * `/change_hook/github`: GitHub's deliveries (repository webhooks and the App's webhook alike).
 * The `X-Hub-Signature-256` must match the webhook secret (missing: 401, wrong: 403, nothing is
 * stored); a delivery id handled before is answered 200 and stores nothing. `push` to branches and
 * `pull_request` opened/reopened/synchronize make a change; a closed pull request's builds are
 * cancelled; installation and repository events start a discovery; `ping` and every other event
 * answer 200 and do nothing.
 */
export function githubChangeHook(deps: GitHubHookDeps): Omit<ChangeHookHandler, 'owner'> {
  async function dispatch(rt: PluginRuntime, event: string, p: Record<string, unknown>): Promise<Answer> {
    const installation = (p.installation as { id?: unknown } | null | undefined)?.id
    const repoName = (p.repository as { full_name?: unknown } | null | undefined)?.full_name
    if (typeof installation === 'number' && Number.isSafeInteger(installation) && typeof repoName === 'string' && repoName) deps.rememberRepo(repoName, installation)
    switch (event) {
      case 'ping': return { status: 200, body: 'pong' }
      case 'installation': case 'installation_repositories': case 'repository': case 'installation_target':
        deps.repositoriesChanged(`${event}${p.action ? `.${String(p.action)}` : ''}`)
        return { status: 200, body: 'discovering repositories again' }
      case 'push': case 'pull_request': {
        if (typeof repoName !== 'string') return { status: 400, body: `a ${event} delivery needs repository.full_name` }
        const entity = await rt.projects.get(repoName)
        if (!entity?.clone_url) {
          rt.log.info({ repo: repoName, event }, 'GitHub delivery for a repository this master does not build; ignored')
          return { status: 200, body: `no change: ${repoName} is not built here` }
        }
        const project: HookProject = { name: entity.name, cloneUrl: entity.clone_url }
        if (event === 'push') {
          const push = parsePush(p)
          if (typeof push === 'string') return { status: 400, body: push }
          const change = pushChange(push, project, { buildTags: deps.buildTags })
          if (typeof change === 'string') return { status: 200, body: `no change: ${change}` }
          await rt.data.changes.addChange(change)
          return { status: 200, body: '1 change found' }
        }
        const pr = parsePullRequest(p)
        if (typeof pr === 'string') return { status: 400, body: pr }
        if (pr.action === 'closed') {
          const n = await deps.pullRequestClosed(pr, project)
          return { status: 200, body: `no change: pull request closed (${n} build${n === 1 ? '' : 's'} cancelled)` }
        }
        if (!BUILT_PR_ACTIONS.has(pr.action)) return { status: 200, body: `no change: pull request ${pr.action}` }
        const trust = await deps.trust(pr)
        await rt.data.changes.addChange(pullRequestChange(pr, project, trust))
        rt.log.info({ repo: repoName, pr: pr.pull_request.number, trusted: trust.trusted, why: trust.reason }, 'pull request change')
        return { status: 200, body: '1 change found' }
      }
      default: {
        const answer = await deps.extra?.(event, p)
        return answer ?? { status: 200, body: `no change: '${event}' events are not used` }
      }
    }
  }

  return {
    dialect: 'github',
    async handle(req) {
      const run = deps.running()
      if (!run) return { status: 503, body: 'the github plugin is not running' }
      const sig = header(req.headers, 'x-hub-signature-256')
      if (!sig) return { status: 401, body: 'missing X-Hub-Signature-256: set the webhook secret in the GitHub App (or repository webhook) settings' }
      if (!req.rawBody.length) return { status: 400, body: 'the delivery has no body' }
      let ok = false
      try { ok = await run.webhooks.verify(req.rawBody.toString('utf8'), sig) } catch { ok = false }
      if (!ok) return { status: 403, body: 'X-Hub-Signature-256 does not match the webhook secret' }
      const event = header(req.headers, 'x-github-event')
      if (!event) return { status: 400, body: 'missing X-GitHub-Event' }
      const payload = parsePayload(req.rawBody, header(req.headers, 'content-type') ?? 'application/json')
      if (typeof payload === 'string') return { status: 400, body: payload }
      const delivery = header(req.headers, 'x-github-delivery')
      const out = await deps.dedup.run(delivery, () => dispatch(run.rt, event, payload), (a) => a.status < 400)
      if (out.duplicate) return { status: 200, body: `no change: delivery ${delivery} was handled before` }
      return out.value
    },
  }
}
