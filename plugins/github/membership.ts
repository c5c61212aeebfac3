import type { GitHubOctokit } from './client.ts'

/** GitHub's "no" for this lookup (not a failure of the installation token behind it). */
const notFound = (err: unknown): boolean => {
  const e = err as { status?: number; request?: { url?: string } }
  return [404, 302].includes(e.status ?? 0) && /\/(members|collaborators)\//.test(e.request?.url ?? '')
}

/** Whether `username` is a member of the organisation `org` (the installation's token sees private memberships). */
export async function isOrgMember(kit: GitHubOctokit, org: string, username: string): Promise<boolean> {
  try {
    const res = await kit.request('GET /orgs/{org}/members/{username}', { org, username })
    return (res.status as number) === 204
  } catch (err) {
    if (notFound(err)) return false
    throw err
  }
}

/** Whether `username` is a collaborator of `owner/repo` (directly, through a team or the organisation). */
export async function isCollaborator(kit: GitHubOctokit, fullName: string, username: string): Promise<boolean> {
  const [owner, repo] = fullName.split('/') as [string, string]
  try {
    const res = await kit.request('GET /repos/{owner}/{repo}/collaborators/{username}', { owner, repo, username })
    return (res.status as number) === 204
  } catch (err) {
    if (notFound(err)) return false
    throw err
  }
}
