/** What is known about the repository and commit whose effects run. */
export interface RepoContext {
  /** Branch name (`main`), a full ref (`refs/pull/7/merge`), or null (a detached commit). */
  branch: string | null
  /** A tag pointing at the commit, if any. */
  tag: string | null
  rev: string
  /** `owner/repo` (a forge project) or a plain name. */
  name: string
  owner: string | null
  /** `github`, `gitea`, … or null for a plain git repository. */
  forgeType: string | null
  /** Clone URL over HTTP(S), without credentials. */
  remoteHttpUrl: string | null
  /** The repository's web page. */
  webUrl: string | null
  /** Whether `branch` is the repository's default branch (and not a pull request). */
  isDefaultBranch: boolean
}

/** The argument Hercules CI passes to the `herculesCI` function (and buildbot-effects' extra keys). */
export interface HerculesArgs {
  ref: string | null
  branch: string | null
  tag: string | null
  rev: string
  shortRev: string
  primaryRepo: {
    ref: string | null; branch: string | null; tag: string | null; rev: string; shortRev: string
    remoteHttpUrl: string | null; webUrl: string | null; forgeType: string | null; owner: string | null; name: string
  }
  herculesCI: { apiBaseUrl: string | null }
  /** buildbot-effects passed these at the top level too. */
  name: string
  remoteHttpUrl: string | null
}

/** A plain branch name (`main`), or null for refs that are not branches (`refs/pull/7/merge`). */
export function branchName(branch: string | null): string | null {
  if (!branch) return null
  if (branch.startsWith('refs/heads/')) return branch.slice('refs/heads/'.length)
  if (branch.startsWith('refs/')) return null
  return branch
}

/** Strips user and password from a URL (clone URLs may carry a token). */
export function withoutCredentials(url: string | null): string | null {
  if (!url) return null
  try {
    const u = new URL(url)
    if (!u.username && !u.password) return url
    u.username = ''
    u.password = ''
    return u.toString()
  } catch { return url }
}

/** `owner/repo` → `repo`; a plain name stays. */
export const repoBaseName = (name: string): string => name.slice(name.lastIndexOf('/') + 1)

export function herculesArgs(c: RepoContext): HerculesArgs {
  const branch = branchName(c.branch)
  const ref = c.tag ? `refs/tags/${c.tag}` : branch ? `refs/heads/${branch}` : c.branch?.startsWith('refs/') ? c.branch : null
  const shortRev = c.rev.slice(0, 7)
  const remoteHttpUrl = withoutCredentials(c.remoteHttpUrl)
  const name = repoBaseName(c.name)
  return {
    ref, branch, tag: c.tag, rev: c.rev, shortRev,
    primaryRepo: { ref, branch, tag: c.tag, rev: c.rev, shortRev, remoteHttpUrl, webUrl: c.webUrl, forgeType: c.forgeType, owner: c.owner, name },
    herculesCI: { apiBaseUrl: null },
    name, remoteHttpUrl,
  }
}
