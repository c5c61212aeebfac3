import { join } from 'node:path'
import { EXCEPTION, FAILURE, SUCCESS, minimalEnvironment, steps, type StepSpec } from '../../core/index.ts'
import { instantiateEffects } from './discover.ts'
import { branchName, herculesArgs, repoBaseName, type RepoContext } from './hercules-args.ts'
import { git } from './repo-context.ts'
import { runEffect } from './run-effect.ts'
import { EffectSecretError, readSecretsFile, selectSecrets } from './secrets.ts'
import { secretFileFor } from './options.ts'
import { projectEntity, started, type EffectsState } from './plugin-state.ts'
import { DerivationError } from './derivation.ts'
import { EffectsEvalError } from './discover.ts'

/** The secret a GitToken entry reads, from the option's template. */
export function gitTokenSecretName(template: string | undefined, forge: string | null, project: string): string {
  const f = forge ?? 'git'
  const t = template ?? (f === 'github' ? 'github-token-{project}' : '{forge}-token')
  const owner = project.includes('/') ? project.slice(0, project.lastIndexOf('/')) : ''
  return t.replaceAll('{forge}', f).replaceAll('{owner}', owner).replaceAll('{repo}', repoBaseName(project)).replaceAll('{project}', project)
}

/**
 * Runs one effect in its own build: the .drv from the evaluation (property `effect_drv`), or,
 * for a scheduled effect (properties `schedule`, `effect`), instantiated from the checkout of the
 * default branch. Waits for the effects before it on the same repository and branch, then runs
 * it in the sandbox with the secrets its secretsMap names (none in an untrusted build); the
 * output streams into the step's log with secret values hidden.
 */
export function effectStep(s: EffectsState, project: string): StepSpec {
  return steps.custom({
    name: 'run effect', type: 'nix-effect', haltOnFailure: true,
    async run(ctx) {
      const rt = started(s)
      const log = await ctx.addLog('stdio')
      const say = (t: string): void => log.write(t + '\n', 'h')
      const effect = String(ctx.getProperty('effect') ?? '')
      const schedule = ctx.hasProperty('schedule') ? String(ctx.getProperty('schedule')) : undefined
      if (!effect) { say('no effect named (property "effect")'); return EXCEPTION }
      const p = await projectEntity(s, project)
      const branch = String(ctx.getProperty('branch') ?? (schedule ? p?.default_branch ?? '' : ''))
      const isDefault = schedule ? true : ctx.getProperty('effect_is_default_branch') === true
      const env = minimalEnvironment()
      const context: RepoContext = {
        branch: branch || null, tag: (ctx.getProperty('effect_tag') as string | null | undefined) ?? null, rev: String(ctx.getProperty('got_revision') ?? ctx.getProperty('revision') ?? ''),
        name: project, owner: p?.owner ?? (project.includes('/') ? project.split('/')[0]! : null), forgeType: p?.forge ?? null,
        remoteHttpUrl: p?.clone_url && /^https?:/.test(p.clone_url) ? p.clone_url : null, webUrl: p?.web_url ?? null, isDefaultBranch: isDefault,
      }
      const key = `${project}\u0000${branchName(branch) ?? branch}`
      await ctx.setStateString(`waiting for earlier effects of ${project} on ${branch || 'this branch'}`)
      let release: (() => void) | undefined
      try { release = await s.lock.acquire(key, ctx.signal) } catch { say('stopped while waiting for earlier effects'); return EXCEPTION }
      try {
        let drvPath = ctx.getProperty('effect_drv') as string | undefined
        if (!drvPath) {
          const checkout = join(String(ctx.getProperty('builddir') ?? ctx.worker.builderDir(ctx.build.builderName)), 'build')
          const rev = await git(checkout, ['rev-parse', 'HEAD'])
          if (!rev) { say(`no checkout at ${checkout}: scheduled effects need a local worker`); return EXCEPTION }
          context.rev = rev
          const drvs = await instantiateEffects({ flakeRef: `git+file://${checkout}?rev=${rev}` }, herculesArgs(context), { env, schedule, names: [effect], signal: ctx.signal, onStderr: (t) => log.write(t, 'e') })
          drvPath = drvs[effect]!
        }
        await ctx.setStateString(`running ${effect}`)
        const file = secretFileFor(s.opts.perRepoSecretFiles, p?.forge ?? null, project)
        const r = await runEffect({
          drvPath, extraSandboxPaths: s.opts.extraSandboxPaths, projectId: project, projectPath: `${p?.forge ?? 'git'}/${project}`, nixEnv: env, signal: ctx.signal,
          secrets: async (map) => selectSecrets({
            available: file && Object.keys(map).length && ctx.build.trusted ? await readSecretsFile(file.file) : undefined,
            source: file ? `the secrets file of '${file.key}'` : 'no secrets file', map, trusted: ctx.build.trusted,
            ctx: { branch: branchName(branch), tag: context.tag, isDefaultBranch: isDefault, repo: repoBaseName(project), owner: context.owner },
            gitToken: () => rt.secret(gitTokenSecretName(s.opts.gitTokenSecret, p?.forge ?? null, project)),
          }),
          onOutput: (t, stream) => log.write(t, stream),
        })
        if (r.aborted) { say('the effect was stopped'); return EXCEPTION }
        if (r.exitCode === 0) { await ctx.setStateString(`${effect} done`); return SUCCESS }
        say(`the effect exited with ${r.exitCode ?? 'a signal'}`)
        await ctx.setStateString(`${effect} failed (exit code ${r.exitCode ?? 'none'})`)
        return FAILURE
      } catch (e) {
        const known = e instanceof EffectSecretError || e instanceof DerivationError || e instanceof EffectsEvalError
        say(known ? (e as Error).message : `the effect could not run: ${(e as Error).stack ?? String(e)}`)
        await ctx.setStateString(`${effect} failed: ${(e as Error).message.split('\n')[0]}`.slice(0, 200))
        return FAILURE
      } finally {
        release()
      }
    },
  })
}
