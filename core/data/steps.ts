import type { Selectable } from 'kysely'
import type { StepsTable } from '../db/schema.ts'
import type { DataContext } from './context.ts'
import { bool, parseJson } from './context.ts'

export interface StepEntity {
  stepid: number; number: number; name: string; buildid: number; started_at: number | null; locks_acquired_at: number | null
  complete: boolean; complete_at: number | null; results: number | null; state_string: string
  urls: { name: string; url: string }[]; hidden: boolean
}
export const toStep = (r: Selectable<StepsTable>): StepEntity => ({
  stepid: r.stepid, number: r.number, name: r.name, buildid: r.buildid,
  started_at: r.started_at == null ? null : Number(r.started_at), locks_acquired_at: r.started_at == null ? null : Number(r.started_at),
  complete: r.complete_at != null, complete_at: r.complete_at == null ? null : Number(r.complete_at), results: r.results,
  state_string: r.state_string, urls: parseJson(r.urls, []), hidden: bool(r.hidden),
})

/** Step names are Buildbot identifiers (50 chars); duplicates in one build get `_2`, `_3`. */
export function stepIdentifier(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_.-]+/g, '_').replace(/^([^a-zA-Z_-])/, '_$1')
  return (s || 'step').slice(0, 50)
}

export function createStepsData(ctx: DataContext) {
  const { db, bus } = ctx
  const live = new Map<number, Selectable<StepsTable>>()
  const publish = (r: Selectable<StepsTable>, event: string) => {
    const e = toStep(r)
    bus.publish(['builds', String(r.buildid), 'steps', String(r.stepid), event], e)
    bus.publish(['steps', String(r.stepid), event], e)
  }
  const get = async (stepid: number) => live.get(stepid) ?? await db.k.selectFrom('steps').selectAll().where('stepid', '=', stepid).executeTakeFirstOrThrow()

  return {
    /** Adds a step; `started` also starts it in the same write (`new`, then `started`, are published). */
    async addStep(buildid: number, number: number, name: string, hidden = false, started = false): Promise<StepEntity> {
      const row = await db.k.insertInto('steps').values({
        number, name, buildid, started_at: started ? ctx.now() : null, complete_at: null, state_string: 'pending', results: null, urls: '[]', hidden: hidden ? 1 : 0,
      }).returningAll().executeTakeFirstOrThrow()
      live.set(row.stepid, row)
      if (started) publish({ ...row, started_at: null }, 'new')
      publish(row, started ? 'started' : 'new')
      return toStep(row)
    },
    async startStep(stepid: number): Promise<void> {
      const started_at = ctx.now()
      await db.k.updateTable('steps').set({ started_at }).where('stepid', '=', stepid).execute()
      const row = await get(stepid)
      row.started_at = started_at
      publish(row, 'started')
    },
    async setStepStateString(stepid: number, state_string: string): Promise<void> {
      await db.k.updateTable('steps').set({ state_string }).where('stepid', '=', stepid).execute()
      const row = await get(stepid)
      row.state_string = state_string
      publish(row, 'updated')
    },
    async addStepURL(stepid: number, name: string, url: string): Promise<void> {
      const row = await get(stepid)
      const urls = [...parseJson<{ name: string; url: string }[]>(row.urls, []), { name, url }]
      row.urls = JSON.stringify(urls)
      await db.k.updateTable('steps').set({ urls: row.urls }).where('stepid', '=', stepid).execute()
      publish(row, 'updated')
    },
    async finishStep(stepid: number, results: number, hidden?: boolean): Promise<void> {
      const complete_at = ctx.now()
      const set: { complete_at: number; results: number; hidden?: number } = { complete_at, results }
      if (hidden != null) set.hidden = hidden ? 1 : 0
      await db.k.updateTable('steps').set(set).where('stepid', '=', stepid).execute()
      const row = await get(stepid)
      live.delete(stepid)
      Object.assign(row, set)
      publish(row, 'finished')
    },
  }
}
