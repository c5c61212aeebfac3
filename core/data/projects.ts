import type { Selectable } from 'kysely'
import type { ProjectsTable } from '../db/schema.ts'
import type { DataContext } from './context.ts'

export interface ProjectEntity {
  projectid: number; name: string; slug: string; active: boolean | null
  description: string | null; description_format: string | null; description_html: string | null
}
export const toProject = (r: Selectable<ProjectsTable>): ProjectEntity => ({
  projectid: r.projectid, name: r.name, slug: r.slug, active: null,
  description: r.description, description_format: r.description_format, description_html: r.description_html,
})

export function slugify(name: string): string {
  return name.replace(/[^a-zA-Z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'project'
}

export function createProjectsData(ctx: DataContext) {
  const { db, bus } = ctx
  return {
    async findProjectId(name: string, description?: string | null): Promise<number> {
      const row = await db.k.selectFrom('projects').selectAll().where('name', '=', name).executeTakeFirst()
      if (row) {
        if (description !== undefined && row.description !== description) {
          await db.k.updateTable('projects').set({ description }).where('projectid', '=', row.projectid).execute()
          bus.publish(['projects', String(row.projectid), 'update'], toProject({ ...row, description }))
        }
        return row.projectid
      }
      const ins = await db.k.insertInto('projects').values({ name, slug: slugify(name), description: description ?? null, description_format: null, description_html: null })
        .returningAll().executeTakeFirstOrThrow()
      bus.publish(['projects', String(ins.projectid), 'update'], toProject(ins))
      return ins.projectid
    },
  }
}
