/** What is known of where a commit lives: a change's or a build's repository, revlink, the project's forge. */
export interface ForgeSource {
  repository?: unknown
  /** A change's link to its commit (forge hooks set it). */
  revlink?: unknown
  /** The project's forge (`github`, `gitea`) and web URL, from the project registry. */
  forge?: unknown
  webUrl?: unknown
}

export interface ForgeLinks {
  commit: string | null
  branch: string | null
}

type Kind = 'github' | 'gitea'

/**
 * The web page of a repository from its clone URL: `https://host/o/r(.git)`, `ssh://git@host/o/r.git`,
 * `git@host:o/r.git` all give `https://host/o/r`; local paths and `file:` URLs give null.
 */
export function repoWebUrl(repository: string): string | null {
  const r = repository.trim().replace(/\/+$/, '').replace(/\.git$/, '')
  const scp = /^[\w.-]+@([\w.-]+):(?!\/)(.+)$/.exec(r)
  if (scp) return `https://${scp[1]}/${scp[2]}`
  // A pattern, not `new URL`: the first URL with a host name costs the page tens of ms (IDNA tables).
  const url = /^(https?|ssh|git):\/\/(?:[^@/]*@)?([\w.-]+)(?::(\d+))?\/+([^?#]*[^/?#])/.exec(r)
  if (!url || !url[4]!.includes('/')) return null
  const web = url[1] === 'http' || url[1] === 'https'
  return `${url[1] === 'http' ? 'http' : 'https'}://${url[2]!.toLowerCase()}${web && url[3] ? `:${url[3]}` : ''}/${url[4]}`
}

function kindOf(base: string, forge: unknown, fromRevlink: boolean): Kind | null {
  if (forge === 'github' || forge === 'gitea') return forge
  if (typeof forge === 'string' && /forgejo|gitea/i.test(forge)) return 'gitea'
  if (/^https?:\/\/(www\.)?github\.com\//.test(base)) return 'github'
  // A revlink `<repo>/commit/<sha>` on another host: Gitea and Forgejo link commits so.
  return fromRevlink ? 'gitea' : null
}

/**
 * Links to a commit and a branch on GitHub or Gitea/Forgejo: the revlink when the change has one,
 * else the repository's web URL in the forge's shape. Pull request refs (`refs/pull/7/merge`) link
 * to the pull request. Unknown forges and local repositories give no links.
 */
export function forgeLinks(src: ForgeSource, revision: unknown, branch: unknown): ForgeLinks {
  const revlink = typeof src.revlink === 'string' && /^https?:\/\//.test(src.revlink) ? src.revlink : null
  const fromRevlink = revlink ? /^(.*)\/commit\/[0-9a-f]{7,64}$/i.exec(revlink)?.[1] ?? null : null
  const base = (typeof src.webUrl === 'string' && src.webUrl ? src.webUrl.replace(/\/+$/, '') : null)
    ?? (typeof src.repository === 'string' ? repoWebUrl(src.repository) : null) ?? fromRevlink
  const kind = base ? kindOf(base, src.forge, !!fromRevlink && base === fromRevlink) : null
  const rev = typeof revision === 'string' && /^[0-9a-f]{7,64}$/i.test(revision) ? revision : null
  const commit = revlink ?? (base && kind && rev ? `${base}/commit/${rev}` : null)
  let branchLink: string | null = null
  if (base && kind && typeof branch === 'string' && branch) {
    const pr = /^refs\/pull\/(\d+)\/(merge|head)$/.exec(branch)
    const name = branch.replace(/^refs\/heads\//, '')
    const path = name.split('/').map(encodeURIComponent).join('/')
    if (pr) branchLink = `${base}/${kind === 'github' ? 'pull' : 'pulls'}/${pr[1]}`
    else branchLink = kind === 'github' ? `${base}/tree/${path}` : `${base}/src/branch/${path}`
  }
  return { commit, branch: branchLink }
}
