import { FAILURE, SKIPPED, SUCCESS, steps, type StepContext, type StepSpec } from '../../core/index.ts'
import type { RuntimeSlot } from './nix-runtime.ts'

const PR_PROPERTIES = ['base_sha', 'head_sha', 'base_branch', 'head_branch', 'pr_number', 'event', 'github.base.sha', 'github.head.sha']

/**
 * Copies pull-request properties of the build's change (`base_sha`, `head_sha`, …) into the
 * build when the scheduler did not, and maps GitHub's `github.base.sha`/`github.head.sha`.
 */
async function adoptChangeProperties(runtime: RuntimeSlot, ctx: StepContext): Promise<void> {
  const ssid = ctx.build.sourcestamps[0]?.ssid
  const rt = runtime.peek()?.rt
  if (rt && ssid != null && !(ctx.hasProperty('base_sha') && ctx.hasProperty('head_sha'))) {
    const props = (await rt.data.changes.latestChangeOfSourcestamp(ssid))?.properties ?? {}
    for (const k of PR_PROPERTIES) if (props[k] && !ctx.hasProperty(k)) await ctx.setProperty(k, props[k][0], 'Change')
  }
  if (!ctx.hasProperty('base_sha') && ctx.hasProperty('github.base.sha')) await ctx.setProperty('base_sha', ctx.getProperty('github.base.sha'), 'nix')
  if (!ctx.hasProperty('head_sha') && ctx.hasProperty('github.head.sha')) await ctx.setProperty('head_sha', ctx.getProperty('github.head.sha'), 'nix')
}

const SCRIPT = `set -eu
git cat-file -e "$HEAD^{commit}" 2>/dev/null && git cat-file -e "$BASE^{commit}" 2>/dev/null || git fetch -q -f "$REPO" "$BASE" "$HEAD"
git checkout -q --detach -f "$HEAD"
if ! git -c user.email=buildbot@example.com -c user.name=buildbot merge -q --no-ff --no-edit -m "Merge $BASE into $HEAD" "$BASE"; then
  echo "merging the base $BASE into the head $HEAD failed (conflicts?); rebase the pull request on its base branch" >&2
  git merge --abort 2>/dev/null || true
  exit 1
fi
git rev-parse HEAD
`

/**
 * For pull requests (properties `base_sha` and `head_sha`): evaluate the head merged with the
 * base as of the event, as buildbot-nix does, since the forge's merge ref may lag behind.
 */
export function prMergeStep(runtime: RuntimeSlot, repourl: string): StepSpec {
  return steps.custom({
    name: 'merge base into head', type: 'nix-pr-merge', haltOnFailure: true,
    // Only pull requests merge; on other builds the step stays out of sight.
    hideStepIf: (result) => result === SKIPPED,
    doStepIf: async (ctx) => {
      await adoptChangeProperties(runtime, ctx)
      return ctx.hasProperty('base_sha') && ctx.hasProperty('head_sha')
    },
    async run(ctx) {
      const base = String(ctx.getProperty('base_sha'))
      const head = String(ctx.getProperty('head_sha'))
      const access = ctx.gitAccess ? await ctx.gitAccess(repourl) : undefined
      const res = await ctx.runCommand({
        name: 'shell',
        args: {
          command: ['/bin/sh', '-c', SCRIPT], workdir: 'build', timeout: 1200, env: { ...access?.env, REPO: repourl, BASE: base, HEAD: head, GIT_TERMINAL_PROMPT: '0' },
          ...(access ? { logEnviron: false } : {}),
        },
      }, { collectStdout: true })
      if (res.rc !== 0) {
        await ctx.setStateString(`merging ${base.slice(0, 12)} into ${head.slice(0, 12)} failed`)
        return FAILURE
      }
      await ctx.setProperty('got_revision', head, 'nix')
      await ctx.setStateString(`merged ${base.slice(0, 12)} into ${head.slice(0, 12)}`)
      return SUCCESS
    },
  })
}
