import type { GitHubOctokit } from './client.ts'

/**
 * Creates the repository's webhook (push and pull_request by default, JSON, signed with the webhook secret)
 * unless one already points at `url`. Returns whether it created one.
 */
export async function ensureRepoWebhook(kit: GitHubOctokit, fullName: string, url: string, secret: string, events: string[] = ['push', 'pull_request']): Promise<boolean> {
  const [owner, repo] = fullName.split('/') as [string, string]
  const hooks = await kit.paginate('GET /repos/{owner}/{repo}/hooks', { owner, repo, per_page: 100 })
  if (hooks.some((h) => h.config?.url === url)) return false
  await kit.request('POST /repos/{owner}/{repo}/hooks', {
    owner, repo, name: 'web', active: true, events,
    config: { url, content_type: 'json', insecure_ssl: '0', secret },
  })
  return true
}
