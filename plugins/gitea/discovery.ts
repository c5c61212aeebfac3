import type { Logger, ProjectSpec } from '../../core/index.ts'
import { repoExcluded, type RepoFilterOptions } from '../forge/index.ts'
import type { GiteaApi, GiteaHook, GiteaRepo } from './gitea-api.ts'

export interface GiteaDiscoveryOptions extends RepoFilterOptions {
  api: GiteaApi
  log: Logger
  /** Where webhooks point: `<webhookBaseUrl>change_hook/gitea`. */
  hookUrl: string
  webhookSecret: () => Promise<string>
  /** Clone over SSH (`ssh_url`) instead of HTTPS (`clone_url`). */
  ssh: boolean
}

/** A discovered repository: the registry's project and what the plugin keeps of it. */
export interface GiteaProject { spec: ProjectSpec; repo: GiteaRepo }

/** The project a Gitea repository becomes (named `owner/repo`, as buildbot-nix). */
export function projectOf(repo: GiteaRepo, ssh: boolean): ProjectSpec {
  return {
    name: repo.full_name, forge: 'gitea', cloneUrl: ssh ? repo.ssh_url : repo.clone_url, defaultBranch: repo.default_branch || 'main',
    private: repo.private, owner: repo.owner.login, webUrl: repo.html_url, description: repo.description || null,
  }
}

/** Creates the push and pull_request webhook of a repository unless one points at `hookUrl` already. */
async function ensureHook(o: GiteaDiscoveryOptions, repo: GiteaRepo): Promise<void> {
  const path = `/repos/${encodeURIComponent(repo.owner.login)}/${encodeURIComponent(repo.name)}/hooks`
  const hooks = await o.api.list<GiteaHook>(path)
  if (hooks.some((h) => h.config?.url === o.hookUrl)) return
  await o.api.request('POST', path, {
    type: 'gitea', active: true, events: ['push', 'pull_request'],
    config: { url: o.hookUrl, content_type: 'json', secret: await o.webhookSecret() },
  })
  o.log.info({ repo: repo.full_name, url: o.hookUrl }, 'created the webhook')
}

/**
 * buildbot-nix's Gitea discovery: the repositories the token's user may administer (others are
 * skipped, saying the admin permission is missing), kept when the topic and allowlists select
 * them, each given a webhook. Throws when Gitea cannot be asked, so the registry keeps what it
 * knew.
 */
export async function discoverGitea(o: GiteaDiscoveryOptions): Promise<GiteaProject[]> {
  const repos = await o.api.list<GiteaRepo>('/user/repos')
  const out: GiteaProject[] = []
  const notAdmin: string[] = []
  for (const repo of repos) {
    const facts = { fullName: repo.full_name, owner: repo.owner.login, topics: [] as string[] }
    // Topics cost a call per repository: ask only for those the allowlists keep.
    if (repoExcluded(facts, { ...o, topic: null })) continue
    if (o.topic) {
      const t = await o.api.request<{ topics: string[] }>('GET', `/repos/${encodeURIComponent(repo.owner.login)}/${encodeURIComponent(repo.name)}/topics`)
      facts.topics = t.data?.topics ?? []
    }
    const why = repoExcluded(facts, o)
    if (why) { o.log.debug({ repo: repo.full_name, why }, 'not built'); continue }
    if (!repo.permissions?.admin) { notAdmin.push(repo.full_name); continue }
    try {
      await ensureHook(o, repo)
    } catch (err) {
      o.log.error({ repo: repo.full_name, err: (err as Error).message }, 'creating the webhook failed; the repository is built when polled or forced, not on push')
    }
    out.push({ spec: projectOf(repo, o.ssh), repo })
  }
  if (notAdmin.length) {
    o.log.warn({ repos: notAdmin, missing: 'admin' },
      `the token's user lacks the admin permission on ${notAdmin.length} selected repositor${notAdmin.length === 1 ? 'y' : 'ies'} (needed to create webhooks); make it an admin (collaborator with admin rights, or an owner's team) to build them`)
  }
  return out
}
