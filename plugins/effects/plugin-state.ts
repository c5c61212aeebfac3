import type { PluginRuntime, ProjectEntity } from '../../core/index.ts'
import type { NixApi } from '../nix/index.ts'
import type { createKeyedLock } from './keyed-lock.ts'
import type { ResolvedEffectsOptions } from './options.ts'

/** One scheduled effect: a nightly scheduler of its repository. */
export interface ScheduledEffect { schedule: string; effect: string; cron: string }

/** What the effects plugin instance shares between its hooks, steps and groups. */
export interface EffectsState {
  opts: ResolvedEffectsOptions
  workers: string[]
  nix: NixApi
  rt?: PluginRuntime
  /** Effects run one at a time per repository and branch. */
  lock: ReturnType<typeof createKeyedLock>
  /** Scheduled effects per project (from its last default-branch evaluation). */
  schedules: Map<string, ScheduledEffect[]>
  /** Sets the project's group again (after its schedules changed). */
  refresh(project: string): Promise<void>
}

export function started(s: EffectsState): PluginRuntime {
  if (!s.rt) throw new Error('the effects plugin has not started')
  return s.rt
}

export async function projectEntity(s: EffectsState, name: string): Promise<ProjectEntity | undefined> {
  return (await started(s).projects.list()).find((p) => p.name === name)
}

export const builderName = (project: string): string => `${project}/nix-effects`
export const triggerName = (project: string): string => `${project}/nix-effects`
export const scheduledName = (project: string, e: ScheduledEffect): string => `${project}/nix-effects-scheduled-${e.schedule}-${e.effect}`
