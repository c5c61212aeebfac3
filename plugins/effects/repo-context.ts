import { execFile } from 'node:child_process'
import { basename, relative, resolve } from 'node:path'
import type { RepoContext } from './hercules-args.ts'
import { withoutCredentials } from './hercules-args.ts'
import { runProcess } from './process.ts'

export function git(cwd: string, args: string[]): Promise<string | undefined> {
  return new Promise((res) => execFile('git', args, { cwd, timeout: 30_000 }, (err, out) => res(err ? undefined : out.trim())))
}

/** `github` for github.com URLs, `gitea`/`forgejo`/`gitlab` when the host says so, else null. */
export function forgeOfUrl(url: string | null): string | null {
  if (!url) return null
  const host = /^[a-z+]+:\/\/(?:[^@/]*@)?([^/:]+)/i.exec(url)?.[1] ?? /^[^@]+@([^:]+):/.exec(url)?.[1] ?? ''
  if (host === 'github.com') return 'github'
  if (host === 'gitlab.com') return 'gitlab'
  if (/gitea|forgejo|codeberg/.test(host)) return 'gitea'
  return null
}

/** `owner/repo` from a forge URL (`https://github.com/owner/repo.git`, `git@host:owner/repo`), else undefined. */
export function repoOfUrl(url: string | null): string | undefined {
  if (!url) return undefined
  const m = /^[a-z+]+:\/\/[^/]+\/(.+?)(?:\.git)?\/?$/i.exec(url) ?? /^[^@]+@[^:]+:(.+?)(?:\.git)?$/.exec(url)
  return m?.[1]?.split('/').slice(-2).join('/')
}

export interface LocalRepo { flakeRef: string; context: RepoContext }

export interface LocalRepoOptions { path: string; rev?: string; branch?: string; repo?: string }

/**
 * What the CLI knows about a local checkout: the flake at `path` (a git tree, possibly in a
 * subdirectory) at `rev` (default: the tip of `branch`, else HEAD), its branch, tag, remote and
 * name; `git+file://…?rev=…` so only committed files count, as in CI.
 */
export async function localRepo(o: LocalRepoOptions): Promise<LocalRepo> {
  const dir = resolve(o.path)
  const root = await git(dir, ['rev-parse', '--show-toplevel'])
  if (!root) throw new Error(`${dir} is not in a git repository (buildbot-effects evaluates a commit: give --path a git checkout, or a flake reference)`)
  const head = await git(root, ['rev-parse', '--abbrev-ref', 'HEAD'])
  const branch = o.branch ?? (head && head !== 'HEAD' ? head : null)
  let rev = o.rev
  if (!rev && o.branch) {
    rev = await git(root, ['rev-parse', '--verify', '-q', `refs/heads/${o.branch}^{commit}`]) ?? await git(root, ['rev-parse', '--verify', '-q', `refs/remotes/origin/${o.branch}^{commit}`])
    if (!rev) throw new Error(`no branch '${o.branch}' in ${root} (nor origin/${o.branch}); give --rev`)
  }
  rev ??= await git(root, ['rev-parse', 'HEAD'])
  if (!rev) throw new Error(`${root} has no commit yet`)
  const full = await git(root, ['rev-parse', '--verify', '-q', `${rev}^{commit}`])
  if (!full) throw new Error(`no commit '${rev}' in ${root}`)
  const tag = (await git(root, ['tag', '--points-at', full]))?.split('\n').filter(Boolean)[0] ?? null
  const remote = withoutCredentials((await git(root, ['remote', 'get-url', 'origin'])) ?? null)
  const originHead = (await git(root, ['symbolic-ref', '-q', '--short', 'refs/remotes/origin/HEAD']))?.replace(/^origin\//, '')
  const defaultBranch = originHead ?? (await git(root, ['rev-parse', '--verify', '-q', 'refs/heads/main']) ? 'main' : await git(root, ['rev-parse', '--verify', '-q', 'refs/heads/master']) ? 'master' : null)
  const name = o.repo ?? repoOfUrl(remote) ?? basename(root)
  const rel = relative(root, dir)
  const flakeRef = `git+file://${root}?${rel ? `dir=${encodeURIComponent(rel)}&` : ''}rev=${full}`
  return {
    flakeRef,
    context: {
      branch, tag, rev: full, name, owner: name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : null,
      forgeType: forgeOfUrl(remote), remoteHttpUrl: remote && /^https?:/.test(remote) ? remote : null, webUrl: null,
      isDefaultBranch: branch != null && branch === defaultBranch,
    },
  }
}

/** A flake reference (`github:org/repo/branch`, `git+https://…?ref=x`) resolved with `nix flake metadata`. */
export async function flakeRefRepo(ref: string, o: Omit<LocalRepoOptions, 'path'>, env: NodeJS.ProcessEnv): Promise<LocalRepo> {
  const r = await runProcess('nix', ['flake', 'metadata', '--json', '--no-write-lock-file', ref], { env })
  if (r.code !== 0) throw new Error(`cannot resolve the flake reference '${ref}': ${r.stderr.trim()}`)
  const m = JSON.parse(r.stdout) as { lockedUrl?: string; url?: string; revision?: string; locked?: { rev?: string; dirtyRev?: string; ref?: string; owner?: string; repo?: string; url?: string }; original?: { ref?: string; owner?: string; repo?: string; url?: string } }
  const locked = m.lockedUrl ?? m.url
  if (!locked) throw new Error(`nix flake metadata gave no locked URL for '${ref}'`)
  const rev = o.rev ?? m.locked?.rev ?? m.revision ?? m.locked?.dirtyRev ?? ''
  const branch = o.branch ?? m.locked?.ref ?? m.original?.ref ?? null
  const owner = m.original?.owner ?? m.locked?.owner
  const repo = m.original?.repo ?? m.locked?.repo
  const url = m.original?.url ?? m.locked?.url ?? null
  const name = o.repo ?? (owner && repo ? `${owner}/${repo}` : repoOfUrl(url) ?? ref)
  const forge = /^github:/.test(ref) ? 'github' : /^gitlab:/.test(ref) ? 'gitlab' : forgeOfUrl(url)
  return {
    flakeRef: locked,
    context: {
      branch, tag: null, rev, name, owner: name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : null, forgeType: forge,
      remoteHttpUrl: forge === 'github' && owner && repo ? `https://github.com/${owner}/${repo}` : url && /^https?:/.test(url) ? withoutCredentials(url) : null,
      webUrl: null, isDefaultBranch: false,
    },
  }
}
