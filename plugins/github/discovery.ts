import { composePaginateRest } from '@octokit/plugin-paginate-rest'
import type { Logger, ProjectSpec } from '../../core/index.ts'
import { repoExcluded, type RepoFilterOptions } from '../forge/index.ts'
import type { GitHubClient } from './client.ts'

/** What discovery keeps of a repository besides its project spec. */
export interface DiscoveredRepo {
  spec: ProjectSpec
  installationId: number
  /** The owner is an organisation (its members get rights on the project). */
  ownerIsOrg: boolean
}

/** A repository of `GET /installation/repositories` (the fields used). */
interface RepoData {
  full_name: string; name: string; private: boolean; html_url: string; clone_url: string; default_branch?: string
  description: string | null; topics?: string[]; archived?: boolean; owner: { login: string; type: string }
}

/** The project the registry holds for a GitHub repository. */
export function repoSpec(r: RepoData): ProjectSpec {
  return {
    name: r.full_name, forge: 'github', cloneUrl: r.clone_url, defaultBranch: r.default_branch ?? 'main', private: r.private,
    owner: r.owner.login, webUrl: r.html_url, description: r.description ?? null,
  }
}

/**
 * Lists every installation of the App and their repositories (paginated), keeping those the
 * topic and allowlists let through. Throws when GitHub cannot be asked, so the registry keeps
 * the projects it knew.
 */
export async function discoverRepos(client: GitHubClient, filter: RepoFilterOptions, log: Logger): Promise<DiscoveredRepo[]> {
  const out: DiscoveredRepo[] = []
  const installations = await composePaginateRest(client.app.octokit, 'GET /app/installations', { per_page: 100 })
  for (const inst of installations) {
    const kit = client.installation(inst.id)
    const repos = await kit.paginate('GET /installation/repositories', { per_page: 100 }) as unknown as RepoData[]
    for (const r of repos) {
      client.rememberRepo(r.full_name, inst.id)
      if (r.archived) continue
      const why = repoExcluded({ fullName: r.full_name, owner: r.owner.login, topics: r.topics ?? [] }, filter)
      if (why) { log.debug({ repo: r.full_name, why }, 'repository not built'); continue }
      out.push({ spec: repoSpec(r), installationId: inst.id, ownerIsOrg: r.owner.type === 'Organization' })
    }
  }
  return out
}
