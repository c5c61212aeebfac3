import { createHash } from 'node:crypto'
import type { Selectable } from 'kysely'
import type { SourcestampsTable } from '../db/schema.ts'
import type { DataContext } from './context.ts'
import { parseJson } from './context.ts'

export interface SourceStampSpec {
  branch?: string | null; revision?: string | null; repository?: string; codebase?: string; project?: string
  patch?: { level: number; subdir: string; author: string; comment: string; body: string } | null
}
export interface SourceStampEntity {
  ssid: number; revision: string | null; branch: string | null; repository: string; project: string
  codebase: string; created_at: number; patch: Record<string, unknown> | null
}
export const toSourceStamp = (r: Selectable<SourcestampsTable>): SourceStampEntity => {
  const patch = parseJson<Record<string, unknown> | null>(r.patch, null)
  return {
    ssid: r.ssid, revision: r.revision, branch: r.branch, repository: r.repository, project: r.project,
    codebase: r.codebase, created_at: Number(r.created_at), patch: patch ? { ...patch, body: null } : null,
  }
}

function ssHash(s: Required<Omit<SourceStampSpec, 'patch'>> & { patch: string | null }): string {
  return createHash('sha1').update(JSON.stringify([s.branch, s.revision, s.repository, s.codebase, s.project, s.patch])).digest('hex')
}

export function createSourceStampsData(ctx: DataContext) {
  const { db } = ctx
  /** Finds or creates a sourcestamp (deduplicated by content, as Buildbot does). */
  async function findSourceStamp(spec: SourceStampSpec): Promise<SourceStampEntity> {
    const s = {
      branch: spec.branch ?? null, revision: spec.revision ?? null, repository: spec.repository ?? '',
      codebase: spec.codebase ?? '', project: spec.project ?? '', patch: spec.patch ? JSON.stringify(spec.patch) : null,
    }
    const ss_hash = ssHash(s)
    const row = await db.k.selectFrom('sourcestamps').selectAll().where('ss_hash', '=', ss_hash).executeTakeFirst()
    if (row) return toSourceStamp(row)
    try {
      return toSourceStamp(await db.k.insertInto('sourcestamps').values({ ...s, ss_hash, created_at: ctx.now() }).returningAll().executeTakeFirstOrThrow())
    } catch (err) {
      const again = await db.k.selectFrom('sourcestamps').selectAll().where('ss_hash', '=', ss_hash).executeTakeFirst()
      if (again) return toSourceStamp(again)
      throw err
    }
  }
  return {
    findSourceStamp,
    async findSourceStampId(spec: SourceStampSpec): Promise<number> {
      return (await findSourceStamp(spec)).ssid
    },
    async getSourceStamps(ssids: number[]): Promise<SourceStampEntity[]> {
      if (!ssids.length) return []
      const rows = await db.k.selectFrom('sourcestamps').selectAll().where('ssid', 'in', ssids).execute()
      const byId = new Map(rows.map((r) => [r.ssid, toSourceStamp(r)]))
      return ssids.map((id) => byId.get(id)!).filter(Boolean)
    },
  }
}
