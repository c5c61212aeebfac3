import { FAILURE, SUCCESS, steps, type StepSpec } from '../../core/index.ts'

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
export function prMergeStep(repourl: string): StepSpec {
  return steps.custom({
    name: 'merge base into head', type: 'nix-pr-merge', haltOnFailure: true,
    doStepIf: (ctx) => ctx.hasProperty('base_sha') && ctx.hasProperty('head_sha'),
    async run(ctx) {
      const base = String(ctx.getProperty('base_sha'))
      const head = String(ctx.getProperty('head_sha'))
      const res = await ctx.runCommand({
        name: 'shell',
        args: { command: ['/bin/sh', '-c', SCRIPT], workdir: 'build', timeout: 1200, env: { REPO: repourl, BASE: base, HEAD: head, GIT_TERMINAL_PROMPT: '0' } },
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
