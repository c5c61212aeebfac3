import { builder, definePlugin, schedulers, steps, type PartsGroup, type PluginRuntime, type ProjectEntity } from '../../core/index.ts'
import { NixKey } from '../nix/index.ts'
import { discoveryStep, type EffectsTables } from './discovery-step.ts'
import { effectStep } from './effect-step.ts'
import { createKeyedLock } from './keyed-lock.ts'
import { effectsOptionsSchema, optionErrors } from './options.ts'
import { builderName, scheduledName, started, triggerName, type EffectsState, type ScheduledEffect } from './plugin-state.ts'

export type { EffectsOptions } from './options.ts'
export type { ScheduledEffect } from './plugin-state.ts'
export { whenToCron, type ScheduleWhen } from './schedule.ts'

/** The group of one project: its effect builder, the triggerable the evaluation uses, and a nightly scheduler per scheduled effect. */
function projectGroup(s: EffectsState, p: Pick<ProjectEntity, 'name' | 'clone_url' | 'default_branch'>): PartsGroup {
  const name = p.name
  const url = p.clone_url ?? ''
  return {
    builders: [builder({
      name: builderName(name), workers: s.workers, project: name, collapseRequests: false, description: `runs the Hercules CI effects of ${name}`,
      // Scheduled effects check out the default branch; effects from an evaluation come as a .drv.
      steps: [steps.git({ repourl: url, doStepIf: (ctx) => !ctx.hasProperty('effect_drv') }), effectStep(s, name)],
    })],
    schedulers: [
      schedulers.triggerable({ name: triggerName(name), builderNames: [builderName(name)] }),
      ...(s.schedules.get(name) ?? []).map((e: ScheduledEffect) => schedulers.nightly({
        name: scheduledName(name, e), builderNames: [builderName(name)], cron: e.cron, timezone: 'UTC',
        branch: p.default_branch ?? 'main', repository: url, project: name,
        properties: { schedule: e.schedule, effect: e.effect, virtual_builder_name: `${name}#onSchedule.${e.schedule}.${e.effect}`, status_name: `scheduled.${e.schedule}.${e.effect}` },
      })),
    ],
  }
}

/** Keeps one group per registered project (whoever registered it), like the Nix plugin. */
async function followRegistry(rt: PluginRuntime, s: EffectsState): Promise<void> {
  const rows = await rt.storage<EffectsTables>().db.selectFrom('effects_schedules').selectAll().execute()
  for (const r of rows) s.schedules.set(r.project, JSON.parse(r.schedules) as ScheduledEffect[])
  const apply = async (e: ProjectEntity): Promise<void> => { if (e.registered) await rt.parts.set(e.name, projectGroup(s, e)); else await rt.parts.delete(e.name) }
  for (const e of await rt.projects.list()) await apply(e)
  const sub = rt.projects.subscribe((ev) => {
    void (ev.type === 'removed' ? rt.parts.delete(ev.project.name) : apply(ev.project))
      .catch((err: Error) => rt.log.error({ project: ev.project.name, err: err.message }, 'updating the effects of a project failed'))
  })
  rt.signal.addEventListener('abort', () => sub.unsubscribe(), { once: true })
}

/**
 * Hercules CI effects, as buildbot-nix runs them and closer to Hercules CI itself: after a
 * project's build matrix succeeded (default branch; pull requests and other branches as the
 * default branch's buildbot-nix.toml allows), each effect of `herculesCI.onPush.default`
 * runs as its own build in a bubblewrap sandbox with the secrets its `secretsMap` names;
 * `onSchedule` effects become nightly schedulers. See plugins/effects/README.md.
 *
 * @example
 * ```ts
 * plugins: [nix({ ... }), effects({ perRepoSecretFiles: { 'github:acme/*': '/run/secrets/acme-effects.json' }, extraSandboxPaths: ['/etc/ssl/certs'] })]
 * ```
 */
export const effects = definePlugin({
  name: 'effects',
  options: effectsOptionsSchema,
  requires: [NixKey],
  setup(api, options) {
    for (const e of optionErrors(options)) api.error(e.path, e.message)
    const s: EffectsState = {
      opts: options, workers: options.workers ?? ['local'], nix: api.use(NixKey), lock: createKeyedLock(), schedules: new Map(),
      async refresh(project) {
        const rt = started(s)
        const p = (await rt.projects.list()).find((x) => x.name === project)
        if (p?.registered) await rt.parts.set(project, projectGroup(s, p))
      },
    }
    api.addMigrations({
      '0001_schedules': {
        async up(db, { bigint }) {
          await db.schema.createTable('effects_schedules').addColumn('project', 'varchar(255)', (c) => c.primaryKey())
            .addColumn('schedules', 'text', (c) => c.notNull()).addColumn('updated_at', bigint, (c) => c.notNull()).execute()
        },
      },
    })
    s.nix.hooks.matrixFinished.tap((ev) => {
      // Every evaluation gets the step: it says why effects do not run, and the default branch's reads the schedules.
      if (s.rt) ev.addSteps([discoveryStep(s, ev)])
    })
    api.onStart(async (rt) => {
      s.rt = rt
      await followRegistry(rt, s)
    })
  },
})
