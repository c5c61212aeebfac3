import { createHash } from 'node:crypto'
import { posix } from 'node:path'
import type { Renderable } from '../properties/renderable.ts'
import type { StepOptions, StepSpec } from '../process/step.ts'
import { FAILURE, SUCCESS } from '../util/results.ts'

export interface GitOptions extends StepOptions {
  repourl: string | Renderable<string>
  /** Branch or ref to fetch when the build has no revision (default: the build's `branch`, else HEAD). */
  branch?: string | Renderable<string>
  workdir?: string
  /** `clean` removes untracked files (default), `incremental` keeps them. */
  mode?: 'clean' | 'incremental'
}

const SCRIPT = `set -eu
mkdir -p "$(dirname "$MIRROR")"
exec 9>"$MIRROR.lock"
flock 9
[ -d "$MIRROR" ] || git init -q --bare "$MIRROR"
git -C "$MIRROR" fetch -q --force --prune "$REPO" '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*'
if [ -n "$REF" ]; then git -C "$MIRROR" fetch -q --force "$REPO" "+$REF:refs/buildbot/fetched" 2>/dev/null || true; fi
flock -u 9
[ -d .git ] || { git init -q .; echo "$MIRROR/objects" > .git/objects/info/alternates; }
if [ -n "$REV" ]; then
  git cat-file -e "$REV^{commit}" 2>/dev/null || git fetch -q --force "$MIRROR" "$REV" 2>/dev/null || git fetch -q --force "$MIRROR" '+refs/*:refs/remotes/mirror/*'
  git checkout -q -f --detach "$REV"
else
  git fetch -q --force "$MIRROR" "+$FETCHREF:refs/remotes/build/head"
  git checkout -q -f --detach refs/remotes/build/head
fi
[ "$MODE" = clean ] && git clean -q -xdff
git rev-parse HEAD
`

/**
 * Checks out the build's revision. Each worker keeps a bare mirror per repository (shared by
 * its builders), so a build fetches only new objects and the checkout borrows the mirror's.
 */
export function git(opts: GitOptions): StepSpec {
  return {
    kind: 'step', type: 'git', name: opts.name ?? 'git', options: { haltOnFailure: true, ...opts },
    fingerprint: { repourl: String(opts.repourl), branch: String(opts.branch ?? ''), mode: opts.mode ?? 'clean' },
    async run(ctx) {
      const repo = await ctx.render(opts.repourl)
      const branch = opts.branch != null ? await ctx.render(opts.branch) : (ctx.getProperty('branch') as string | undefined) ?? ''
      const revision = (ctx.getProperty('revision') as string | undefined) ?? ''
      const builderDir = ctx.worker.builderDir(ctx.build.builderName)
      const mirror = posix.join(posix.dirname(builderDir), '.git-mirrors', createHash('sha1').update(repo).digest('hex').slice(0, 16) + '.git')
      const ref = branch && !branch.startsWith('refs/heads/') && branch.startsWith('refs/') ? branch : ''
      const fetchRef = branch ? (branch.startsWith('refs/') ? (ref ? 'refs/buildbot/fetched' : branch) : `refs/heads/${branch}`) : 'HEAD'
      // Credentials from a plugin (token helper, SSH key): in the environment only, never logged.
      const access = ctx.gitAccess ? await ctx.gitAccess(repo) : undefined
      await ctx.setStateString(`checkout ${revision ? revision.slice(0, 12) : branch || 'HEAD'}`)
      const res = await ctx.runCommand({
        name: 'shell',
        args: {
          command: ['/bin/sh', '-c', SCRIPT], workdir: opts.workdir ?? 'build', timeout: 1200,
          env: { ...access?.env, REPO: repo, MIRROR: mirror, REF: ref, REV: revision, FETCHREF: fetchRef, MODE: opts.mode ?? 'clean', GIT_TERMINAL_PROMPT: '0' },
          ...(access ? { logEnviron: false } : {}),
        },
      }, { collectStdout: true })
      if (res.rc !== 0) {
        await ctx.setStateString(`checkout failed (exit ${res.rc})`)
        return FAILURE
      }
      const got = res.stdout.trim().split('\n').pop() ?? ''
      await ctx.setProperty('got_revision', got, 'Git')
      await ctx.setStateString(`checked out ${got.slice(0, 12)}`)
      return SUCCESS
    },
  }
}
