/** What is known about a pull request when deciding whether its build may see secrets. */
export interface PullRequestTrustInput {
  /** The pull request's author (forge login). */
  author: string
  /** `owner/repo` of the base (the repository built). */
  baseRepo: string
  /** `owner/repo` of the head; null when the fork was deleted. */
  headRepo: string | null
  /** Logins trusted whatever their rights (case-insensitive). */
  allowlist?: readonly string[] | null
  /** Whether the author is a member of the organisation owning the base repository (asked only when needed). */
  isOrgMember?: () => Promise<boolean>
  /** Whether the author is a collaborator of the base repository (asked only when needed). */
  isCollaborator?: () => Promise<boolean>
  /** Told when a lookup fails (it then counts as "no"). */
  onLookupError?: (what: 'member' | 'collaborator', err: unknown) => void
}

export interface PullRequestTrust {
  trusted: boolean
  /** Why, for logs and the status description. */
  reason: string
}

/**
 * Whether a pull request builds trusted (secrets, cache pushes, effects): from a branch of the
 * same repository, or by an author who is listed, an organisation member or a collaborator.
 * Everyone else's builds run without secrets. A lookup that fails counts as "no": a forge outage
 * never makes an outsider trusted.
 */
export async function decidePullRequestTrust(i: PullRequestTrustInput): Promise<PullRequestTrust> {
  const lower = (s: string) => s.toLowerCase()
  if (i.headRepo && lower(i.headRepo) === lower(i.baseRepo)) return { trusted: true, reason: 'from a branch of the same repository' }
  if (i.allowlist?.some((u) => lower(u) === lower(i.author))) return { trusted: true, reason: `${i.author} is in the allowlist` }
  const ask = async (what: 'member' | 'collaborator', q?: () => Promise<boolean>) => {
    try { return q ? await q() : false } catch (err) { i.onLookupError?.(what, err); return false }
  }
  if (await ask('member', i.isOrgMember)) return { trusted: true, reason: `${i.author} is a member of the organisation` }
  if (await ask('collaborator', i.isCollaborator)) return { trusted: true, reason: `${i.author} is a collaborator` }
  return { trusted: false, reason: `${i.author} is not a member or collaborator: built without secrets` }
}
