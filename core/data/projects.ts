import type { Selectable } from 'kysely'
import type { ProjectsTable } from '../db/schema.ts'
import type { DataContext } from './context.ts'
import { parseJson } from './context.ts'

/** A project as the REST API shows it: Buildbot's fields, then the registry's. */
export interface ProjectEntity {
  projectid: number; name: string; slug: string; active: boolean | null
  description: string | null; description_format: string | null; description_html: string | null
  /** Registered in the project registry (by configuration or a project source), not only named by a builder. */
  registered: boolean
  forge: string | null; clone_url: string | null; default_branch: string | null; private: boolean; owner: string | null
  web_url: string | null; branches: string[]; poll_interval: number | null
  /** Who registered it: a plugin's name or a project source's. */
  source: string | null
}
export const toProject = (r: Selectable<ProjectsTable>): ProjectEntity => ({
  projectid: r.projectid, name: r.name, slug: r.slug, active: null,
  description: r.description, description_format: r.description_format, description_html: r.description_html,
  registered: !!r.registered, forge: r.forge, clone_url: r.clone_url, default_branch: r.default_branch, private: !!r.private,
  owner: r.owner, web_url: r.web_url, branches: parseJson(r.branches, []), poll_interval: r.poll_interval, source: r.source,
})

/** What a plugin or project source registers. */
export interface ProjectSpec {
  name: string
  /** `github`, `gitea`, … or null for a plain git URL. */
  forge?: string | null
  cloneUrl: string
  defaultBranch?: string
  private?: boolean
  owner?: string | null
  webUrl?: string | null
  description?: string | null
  /** Branch globs built on push beside the default branch. */
  branches?: string[]
  /** Seconds between polls of the repository; none: changes come from webhooks. */
  pollInterval?: number | null
}

export function slugify(name: string): string {
  return name.replace(/[^a-zA-Z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'project'
}

const columns = (p: ProjectSpec) => ({
  forge: p.forge ?? null, clone_url: p.cloneUrl, default_branch: p.defaultBranch ?? 'main', private: p.private ? 1 : 0,
  owner: p.owner ?? null, web_url: p.webUrl ?? null, branches: JSON.stringify(p.branches ?? []), poll_interval: p.pollInterval ?? null,
})

export function createProjectsData(ctx: DataContext) {
  const { db, bus } = ctx
  const publish = (e: ProjectEntity) => bus.publish(['projects', String(e.projectid), 'update'], e)
  return {
    async findProjectId(name: string, description?: string | null): Promise<number> {
      const row = await db.k.selectFrom('projects').selectAll().where('name', '=', name).executeTakeFirst()
      if (row) {
        if (description !== undefined && row.description !== description) {
          await db.k.updateTable('projects').set({ description }).where('projectid', '=', row.projectid).execute()
          publish(toProject({ ...row, description }))
        }
        return row.projectid
      }
      const ins = await db.k.insertInto('projects').values({ name, slug: slugify(name), description: description ?? null, description_format: null, description_html: null,
        forge: null, clone_url: null, default_branch: null, owner: null, web_url: null, source: null, poll_interval: null })
        .returningAll().executeTakeFirstOrThrow()
      publish(toProject(ins))
      return ins.projectid
    },

    async getProject(name: string): Promise<ProjectEntity | undefined> {
      const row = await db.k.selectFrom('projects').selectAll().where('name', '=', name).executeTakeFirst()
      return row && toProject(row)
    },

    /** The registered projects, by name. */
    async registeredProjects(): Promise<ProjectEntity[]> {
      return (await db.k.selectFrom('projects').selectAll().where('registered', '=', 1).orderBy('name').execute()).map(toProject)
    },

    /**
     * Registers a project (or updates a registered one) on behalf of `source`; publishes
     * `projects/<id>/update`. Returns the entity and whether anything changed.
     */
    async registerProject(spec: ProjectSpec, source: string): Promise<{ project: ProjectEntity; change: 'added' | 'updated' | 'unchanged' }> {
      const row = await db.k.selectFrom('projects').selectAll().where('name', '=', spec.name).executeTakeFirst()
      const cols = { ...columns(spec), source, registered: 1, ...(spec.description !== undefined ? { description: spec.description } : {}) }
      if (!row) {
        const ins = await db.k.insertInto('projects').values({ name: spec.name, slug: slugify(spec.name), description: spec.description ?? null, description_format: null, description_html: null, ...cols })
          .returningAll().executeTakeFirstOrThrow()
        const e = toProject(ins)
        publish(e)
        return { project: e, change: 'added' }
      }
      const same = row.registered === 1 && (Object.keys(cols) as (keyof typeof cols)[]).every((k) => row[k] === cols[k])
      if (same) return { project: toProject(row), change: 'unchanged' }
      const upd = await db.k.updateTable('projects').set(cols).where('projectid', '=', row.projectid).returningAll().executeTakeFirstOrThrow()
      const e = toProject(upd)
      publish(e)
      return { project: e, change: row.registered === 1 ? 'updated' : 'added' }
    },

    /** Takes a project out of the registry; its row stays for the builds that name it. */
    async unregisterProject(name: string): Promise<ProjectEntity | undefined> {
      const upd = await db.k.updateTable('projects').set({ registered: 0, source: null }).where('name', '=', name).where('registered', '=', 1).returningAll().executeTakeFirst()
      if (!upd) return undefined
      const e = toProject(upd)
      publish(e)
      return e
    },
  }
}
