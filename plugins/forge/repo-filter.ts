/** What discovery knows of a repository when deciding whether to build it. */
export interface RepoFacts {
  /** `owner/repo`. */
  fullName: string
  owner: string
  topics: readonly string[]
}

/** The options of buildbot-nix's repository filter (`topic`, `userAllowlist`, `repoAllowlist`). */
export interface RepoFilterOptions {
  /** Only repositories with this topic (null or undefined: any repository). */
  topic?: string | null
  /** Owners (users or organisations) whose repositories are built. */
  userAllowlist?: readonly string[] | null
  /** `owner/repo` names that are built. */
  repoAllowlist?: readonly string[] | null
}

/** Why a repository is left out, or null when it is built. */
export function repoExcluded(r: RepoFacts, o: RepoFilterOptions): string | null {
  if (o.topic && !r.topics.includes(o.topic)) return `it has no '${o.topic}' topic`
  const users = o.userAllowlist ?? null
  const repos = o.repoAllowlist ?? null
  if (users == null && repos == null) return null
  const lower = (s: string) => s.toLowerCase()
  if (users?.some((u) => lower(u) === lower(r.owner))) return null
  if (repos?.some((n) => lower(n) === lower(r.fullName))) return null
  return 'neither its owner nor its name is in userAllowlist or repoAllowlist'
}

/**
 * buildbot-nix's filter: the topic must match when one is set; then, if neither allowlist is
 * set, every repository passes, else one whose owner is in `userAllowlist` or whose full name is
 * in `repoAllowlist` (case-insensitive, as forges treat names).
 */
export const repoAllowed = (r: RepoFacts, o: RepoFilterOptions): boolean => repoExcluded(r, o) === null
