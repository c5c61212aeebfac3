import type { Selectable } from 'kysely'
import type { ChangesTable } from '../db/schema.ts'
import type { DataContext } from './context.ts'
import { parseJson } from './context.ts'
import type { SourceStampEntity } from './sourcestamps.ts'
import { createSourceStampsData } from './sourcestamps.ts'

export interface ChangeSpec {
  author: string; committer?: string | null; comments?: string; branch?: string | null; revision?: string | null
  revlink?: string | null; when_timestamp?: number; category?: string | null; repository?: string
  codebase?: string; project?: string; files?: string[]; properties?: Record<string, unknown>
  /**
   * The adding code vouches for this change (a forge plugin for a pull request from someone it
   * trusts). Schedulers that build untrusted input (the Nix plugin's pull-request scheduler) read it.
   * Default: not vouched for.
   */
  trusted?: boolean
}
export interface ChangeEntity {
  changeid: number; parent_changeids: number[]; author: string; committer: string | null; files: string[]
  comments: string; revision: string | null; when_timestamp: number; branch: string | null; category: string | null
  revlink: string | null; properties: Record<string, [unknown, string]>; repository: string; project: string
  codebase: string; sourcestamp: SourceStampEntity
  trusted: boolean
}
export const toChange = (r: Selectable<ChangesTable>, ss: SourceStampEntity): ChangeEntity => ({
  changeid: r.changeid, parent_changeids: parseJson(r.parent_changeids, []), author: r.author, committer: r.committer,
  files: parseJson(r.files, []), comments: r.comments, revision: r.revision, when_timestamp: Number(r.when_timestamp),
  branch: r.branch, category: r.category, revlink: r.revlink, properties: parseJson(r.properties, {}),
  repository: r.repository, project: r.project, codebase: r.codebase, sourcestamp: ss, trusted: !!r.trusted,
})

export function createChangesData(ctx: DataContext) {
  const { db, bus } = ctx
  const ss = createSourceStampsData(ctx)
  return {
    /** Stores a change and publishes `changes/<id>/new`. */
    async addChange(spec: ChangeSpec): Promise<ChangeEntity> {
      const repository = spec.repository ?? ''
      const codebase = spec.codebase ?? ''
      const project = spec.project ?? ''
      const stamp = await ss.findSourceStamp({ branch: spec.branch, revision: spec.revision, repository, codebase, project })
      const sourcestampid = stamp.ssid
      const props: Record<string, [unknown, string]> = {}
      for (const [k, v] of Object.entries(spec.properties ?? {})) props[k] = [v, 'Change']
      const prev = await db.k.selectFrom('changes').select('changeid').where('repository', '=', repository)
        .where('codebase', '=', codebase).where('branch', spec.branch == null ? 'is' : '=', spec.branch ?? null)
        .orderBy('changeid', 'desc').limit(1).executeTakeFirst()
      const row = await db.k.insertInto('changes').values({
        author: spec.author, committer: spec.committer ?? null, comments: spec.comments ?? '', branch: spec.branch ?? null,
        revision: spec.revision ?? null, revlink: spec.revlink ?? null, when_timestamp: spec.when_timestamp ?? ctx.now(),
        category: spec.category ?? null, repository, codebase, project, sourcestampid,
        parent_changeids: JSON.stringify(prev ? [prev.changeid] : []), files: JSON.stringify(spec.files ?? []),
        properties: JSON.stringify(props), trusted: spec.trusted ? 1 : 0,
      }).returningAll().executeTakeFirstOrThrow()
      const entity = toChange(row, stamp)
      bus.publish(['changes', String(row.changeid), 'new'], entity)
      return entity
    },
    async getChange(changeid: number): Promise<ChangeEntity | undefined> {
      const row = await db.k.selectFrom('changes').selectAll().where('changeid', '=', changeid).executeTakeFirst()
      if (!row) return undefined
      const [stamp] = await ss.getSourceStamps([row.sourcestampid])
      return toChange(row, stamp!)
    },
    /** The newest change of a source stamp (e.g. to read the pull-request properties a build came from). */
    async latestChangeOfSourcestamp(ssid: number): Promise<ChangeEntity | undefined> {
      const row = await db.k.selectFrom('changes').selectAll().where('sourcestampid', '=', ssid).orderBy('changeid', 'desc').limit(1).executeTakeFirst()
      if (!row) return undefined
      const [stamp] = await ss.getSourceStamps([row.sourcestampid])
      return toChange(row, stamp!)
    },
  }
}
