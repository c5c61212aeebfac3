import type { QueuedStatus, SendOutcome } from '../../core/index.ts'
import { sendOutcomeOf } from '../../core/index.ts'
import type { GitHubClient } from './client.ts'

/** An Octokit error's answer as `sendOutcomeOf` reads it. */
export function outcomeOfError(err: unknown): SendOutcome {
  const e = err as { status?: number; message?: string; permission?: string; response?: { headers?: Record<string, string | number | undefined> } }
  if (e.permission) return { error: e.message ?? 'missing permission', permanent: true }
  if (typeof e.status !== 'number' || e.status < 100) return { error: e.message ?? String(err) }
  const headers = e.response?.headers ?? {}
  const out = sendOutcomeOf({ status: e.status, headers: { get: (n) => (headers[n] == null ? null : String(headers[n])) } })
  // A secondary rate limit without Retry-After: GitHub asks to wait at least a minute.
  if ('error' in out && e.status === 403 && /secondary rate limit/i.test(e.message ?? '')) return { retryAfter: 60, scope: 'all' }
  return 'error' in out ? { ...out, error: `${out.error}: ${e.message ?? ''}`.trim() } : out
}

/**
 * Sends one commit status (`POST /repos/{owner}/{repo}/statuses/{sha}`) as the repository's
 * installation. Rate limits and errors go back to the outbox, which waits and retries; the
 * throttling plugin only spaces the writes.
 */
export function githubStatusSender(client: GitHubClient) {
  return async (u: QueuedStatus, signal: AbortSignal): Promise<SendOutcome> => {
    const [owner, repo] = u.repository.split('/')
    if (!owner || !repo) return { error: `'${u.repository}' is not an owner/repo name`, permanent: true }
    try {
      const kit = await client.forRepo(u.repository)
      await kit.request('POST /repos/{owner}/{repo}/statuses/{sha}', {
        owner, repo, sha: u.revision, state: u.state, context: u.context,
        description: u.description ?? undefined, target_url: u.targetUrl ?? undefined,
        request: { signal, outbox: true, retries: 0 },
      })
      return { ok: true }
    } catch (err) {
      return outcomeOfError(err)
    }
  }
}
