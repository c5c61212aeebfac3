import { relative } from 'node:path'
import { FAILURE, SKIPPED, SUCCESS, WARNINGS, fnmatch, steps, worstStatus, type Result, type StepContext, type StepSpec } from '../../core/index.ts'
import type { NixEffectsEvent, NixEvalInfo, NixMatrixFinished } from '../nix/index.ts'
import { readDefaultBranchConfig } from './default-branch-config.ts'
import { instantiateEffects, listSchedules } from './discover.ts'
import { herculesArgs, type RepoContext } from './hercules-args.ts'
import { git } from './repo-context.ts'
import { whenToCron } from './schedule.ts'
import { projectEntity, started, triggerName, type EffectsState, type ScheduledEffect } from './plugin-state.ts'
import { minimalEnvironment } from '../../core/index.ts'

const info = (ev: NixMatrixFinished): NixEvalInfo => ({
  project: ev.project, repository: ev.repository, buildid: ev.buildid, url: ev.url, branch: ev.branch, revision: ev.revision,
  isDefaultBranch: ev.isDefaultBranch, isPullRequest: ev.isPullRequest, trusted: ev.trusted,
})

/** Whether the effects of this evaluation may run: default branch always; others as the default branch's buildbot-nix.toml says. */
async function allowed(s: EffectsState, ev: NixMatrixFinished, defaultBranch: string, cloneUrl: string): Promise<{ ok: boolean; why: string; warnings: string[] }> {
  if (ev.isDefaultBranch) return { ok: true, why: 'default branch', warnings: [] }
  const cfg = await readDefaultBranchConfig(ev.checkoutDir, defaultBranch, cloneUrl)
  if (ev.isPullRequest) {
    return cfg.effectsOnPullRequests ? { ok: true, why: 'effects_on_pull_requests', warnings: cfg.warnings }
      : { ok: false, why: `pull request: the default branch's buildbot-nix.toml does not set effects_on_pull_requests = true`, warnings: cfg.warnings }
  }
  const glob = cfg.effectsBranches.find((g) => fnmatch(ev.branch, g))
  return glob ? { ok: true, why: `effects_branches '${glob}'`, warnings: cfg.warnings }
    : { ok: false, why: `branch '${ev.branch}' matches no glob of effects_branches on the default branch`, warnings: cfg.warnings }
}

/**
 * The step added to an evaluation build when its matrix is over: on the default branch it reads
 * the schedules (the project's nightly schedulers follow them); when the matrix succeeded and the
 * branch may run effects, it instantiates the effects of `onPush.default` and runs each as its
 * own build (`<project>/nix-effects`), reporting `buildbot/nix-effects`.
 */
export function discoveryStep(s: EffectsState, ev: NixMatrixFinished): StepSpec {
  return steps.custom({
    name: 'effects', type: 'nix-effects-discovery',
    async run(ctx) {
      const rt = started(s)
      const p = await projectEntity(s, ev.project)
      const log = await ctx.addLog('stdio', 's')
      const say = (t: string): void => log.write(t + '\n', 'h')
      const defaultBranch = p?.default_branch ?? 'main'
      const rev = await git(ev.checkoutDir, ['rev-parse', 'HEAD'])
      if (!rev) { say(`the checkout ${ev.checkoutDir} has no commit`); return FAILURE }
      const rel = relative(ev.checkoutDir, ev.flakeDir)
      const flakeRef = `git+file://${ev.checkoutDir}?${rel ? `dir=${encodeURIComponent(rel)}&` : ''}rev=${rev}`
      const tag = (await git(ev.checkoutDir, ['tag', '--points-at', rev]))?.split('\n').filter(Boolean)[0] ?? null
      const context: RepoContext = {
        branch: ev.branch, tag, rev: ev.revision ?? rev, name: ev.project, owner: p?.owner ?? (ev.project.includes('/') ? ev.project.split('/')[0]! : null),
        forgeType: p?.forge ?? null, remoteHttpUrl: /^https?:/.test(p?.clone_url ?? ev.repository) ? (p?.clone_url ?? ev.repository) : null, webUrl: p?.web_url ?? null,
        isDefaultBranch: ev.isDefaultBranch,
      }
      const args = herculesArgs(context)
      const env = minimalEnvironment()
      const onStderr = (t: string): void => log.write(t, 'e')
      let result: Result = SUCCESS
      if (ev.isDefaultBranch) {
        try {
          const sched = await listSchedules({ flakeRef }, args, { env, signal: ctx.signal, onStderr })
          const list: ScheduledEffect[] = []
          for (const [name, x] of Object.entries(sched)) {
            const c = whenToCron(name, x.when)
            if (!c.cron) { say(`schedule '${name}' is ignored: ${c.errors.join('; ')}`); result = WARNINGS; continue }
            for (const effect of x.effects) list.push({ schedule: name, effect, cron: c.cron })
          }
          const before = JSON.stringify(s.schedules.get(ev.project) ?? [])
          if (JSON.stringify(list) !== before) {
            await storeSchedules(s, ev.project, list)
            say(`scheduled effects: ${list.length ? list.map((e) => `${e.schedule}.${e.effect} (${e.cron} UTC)`).join(', ') : 'none'}`)
          }
        } catch (e) {
          say(`reading the schedules failed: ${(e as Error).message}`)
          result = WARNINGS
        }
      }
      if (ev.results !== SUCCESS && ev.results !== WARNINGS) {
        say('effects do not run: the build matrix did not succeed')
        await ctx.setStateString('effects skipped: the build failed')
        return ev.isDefaultBranch ? result : SKIPPED
      }
      const may = await allowed(s, ev, defaultBranch, p?.clone_url ?? ev.repository)
      for (const w of may.warnings) say(w)
      if (!may.ok) {
        say(`effects do not run: ${may.why}`)
        await ctx.setStateString('effects not enabled for this branch')
        return SKIPPED
      }
      let drvs: Record<string, string>
      try {
        drvs = await instantiateEffects({ flakeRef }, args, { env, signal: ctx.signal, onStderr })
      } catch (e) {
        say((e as Error).message)
        await emit(s, { ...info(ev), phase: 'finished', results: FAILURE, effects: [], description: 'The effects failed to evaluate' })
        return FAILURE
      }
      const names = Object.keys(drvs)
      if (!names.length) { await ctx.setStateString('no effects'); return result }
      say(`running ${names.length} effect${names.length === 1 ? '' : 's'} (${may.why}${ev.trusted ? '' : '; untrusted: no secrets'}): ${names.join(', ')}`)
      await emit(s, { ...info(ev), phase: 'started', effects: names.map((name) => ({ name })) })
      const r = await runTriggered(s, ctx, ev, drvs, tag)
      await emit(s, { ...info(ev), phase: 'finished', results: r.results, effects: r.effects })
      await ctx.setStateString(`${names.length} effect${names.length === 1 ? '' : 's'}: ${r.effects.map((e) => `${e.name} ${e.results === SUCCESS ? 'ok' : 'failed'}`).join(', ')}`.slice(0, 200))
      return worstStatus(result, r.results)
    },
  })
}

async function emit(s: EffectsState, ev: NixEffectsEvent): Promise<void> {
  await s.nix.emitEffects(ev).catch((e: Error) => started(s).log.warn({ err: e.message }, 'reporting effects failed'))
}

async function runTriggered(s: EffectsState, ctx: StepContext, ev: NixMatrixFinished, drvs: Record<string, string>, tag: string | null): Promise<{ results: Result; effects: { name: string; results: Result }[] }> {
  const entries = Object.entries(drvs)
  const triggered = await ctx.trigger(entries.map(([name, drv]) => ({
    scheduler: triggerName(ev.project), reason: `effect ${name}`,
    properties: {
      effect: name, effect_drv: drv, effect_tag: tag, effect_is_default_branch: ev.isDefaultBranch, project: ev.project,
      virtual_builder_name: `${ev.project}#effects.${name}`, status_name: `effects.${name}`,
    },
  })))
  const results = await ctx.waitForBuildsets(triggered.map((t) => t.bsid))
  const effects = entries.map(([name], i) => ({ name, results: results.get(triggered[i]!.bsid) ?? FAILURE }))
  return { results: effects.reduce<Result>((w, e) => worstStatus(w, e.results), SUCCESS), effects }
}

/** Remembers a project's scheduled effects (kept across restarts) and updates its schedulers. */
async function storeSchedules(s: EffectsState, project: string, list: ScheduledEffect[]): Promise<void> {
  const st = started(s).storage<EffectsTables>()
  const row = { project, schedules: JSON.stringify(list), updated_at: Date.now() }
  await st.db.insertInto('effects_schedules').values(row).onConflict((oc) => oc.column('project').doUpdateSet({ schedules: row.schedules, updated_at: row.updated_at })).execute()
  s.schedules.set(project, list)
  await s.refresh(project)
}

export interface EffectsTables {
  effects_schedules: { project: string; schedules: string; updated_at: number }
}
