import type { BuilderConfig } from '../process/builder-config.ts'
import type { SchedulerSpec } from '../schedulers/scheduler.ts'
import type { ChangeSourceSpec } from '../changes/change-source.ts'
import type { TriggerOptions } from '../steps/trigger.ts'

/** Builders, schedulers and change sources a plugin adds or removes together at run time. */
export interface PartsGroup {
  builders?: BuilderConfig[]
  schedulers?: SchedulerSpec[]
  changeSources?: ChangeSourceSpec[]
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Checks a group as the configuration's own parts are checked, against everything else that
 * runs (`others`) and the configured worker names. Returns every mistake (empty: fine).
 */
export function checkParts(key: string, group: PartsGroup, others: Required<PartsGroup>, workerNames: Set<string>): string[] {
  const errors: string[] = []
  const at = (what: string) => `parts '${key}' ${what}`
  if (!isObj(group as unknown)) return [at('must be an object { builders, schedulers, changeSources }')]
  const builders: BuilderConfig[] = Array.isArray(group.builders) ? group.builders : []
  const schedulers: SchedulerSpec[] = Array.isArray(group.schedulers) ? group.schedulers : []
  const sources: ChangeSourceSpec[] = Array.isArray(group.changeSources) ? group.changeSources : []
  const builderNames = new Set(others.builders.map((b) => b.name))
  const schedulerByName = new Map(others.schedulers.map((s) => [s.name, s]))
  const sourceNames = new Set(others.changeSources.map((c) => c.name))
  builders.forEach((b, i) => {
    const p = at(`builders[${i}]`)
    if (!isObj(b) || b.kind !== 'builder') { errors.push(`${p}: must be made with builder({...})`); return }
    if (typeof b.name !== 'string' || !b.name) errors.push(`${p}.name: a builder needs a name`)
    else if (builderNames.has(b.name)) errors.push(`${p}.name: duplicate builder name '${b.name}'`)
    else builderNames.add(b.name)
    if (!Array.isArray(b.workers) || !b.workers.length) errors.push(`${p}.workers: a builder needs at least one worker name`)
    else b.workers.forEach((w, j) => { if (!workerNames.has(w)) errors.push(`${p}.workers[${j}]: no worker named '${w}'`) })
    if (!Array.isArray(b.steps) || !b.steps.length) errors.push(`${p}.steps: a builder needs at least one step`)
    else b.steps.forEach((s, j) => { if (!isObj(s) || (s as { kind?: unknown }).kind !== 'step') errors.push(`${p}.steps[${j}]: must be a step made with steps.shell(), steps.git(), ...`) })
  })
  schedulers.forEach((s, i) => {
    const p = at(`schedulers[${i}]`)
    if (!isObj(s) || s.kind !== 'scheduler') { errors.push(`${p}: must be made with schedulers.force(), schedulers.anyBranch(), ...`); return }
    if (schedulerByName.has(s.name)) errors.push(`${p}.name: duplicate scheduler name '${s.name}'`)
    schedulerByName.set(s.name, s)
    if (!Array.isArray(s.builderNames) || !s.builderNames.length) errors.push(`${p}.builderNames: scheduler '${s.name}' names no builder`)
    else s.builderNames.forEach((n, j) => { if (!builderNames.has(n)) errors.push(`${p}.builderNames[${j}]: no builder named '${n}'`) })
  })
  builders.forEach((b, i) => {
    if (!isObj(b) || !Array.isArray(b.steps)) return
    b.steps.forEach((step, j) => {
      if (!isObj(step) || step.type !== 'trigger') return
      ;((step.options as TriggerOptions).schedulerNames ?? []).forEach((n, k) => {
        const s = schedulerByName.get(n)
        if (!s) errors.push(at(`builders[${i}].steps[${j}].schedulerNames[${k}]: no scheduler named '${n}'`))
        else if (s.type !== 'triggerable') errors.push(at(`builders[${i}].steps[${j}].schedulerNames[${k}]: scheduler '${n}' is not triggerable`))
      })
    })
  })
  sources.forEach((c, i) => {
    const p = at(`changeSources[${i}]`)
    if (!isObj(c) || c.kind !== 'changesource') { errors.push(`${p}: must be made with changes.gitPoller({...})`); return }
    if (sourceNames.has(c.name)) errors.push(`${p}.name: duplicate change source '${c.name}'`)
    sourceNames.add(c.name)
  })
  return errors
}
