import type { Data } from '../data/data.ts'
import type { ProjectEntity, ProjectSpec } from '../data/projects.ts'
import type { Logger } from '../util/logger.ts'
import { createSerialQueue } from '../master/serial-queue.ts'

export type { ProjectEntity, ProjectSpec }

/** A change of the registry, as its subscribers hear it. */
export interface ProjectEvent { type: 'added' | 'updated' | 'removed'; project: ProjectEntity }

/** Forge discovery: a plugin's list of the projects it finds (repositories with a topic, an org's repos, …). */
export interface ProjectSource {
  name: string
  discover(): Promise<ProjectSpec[]>
}

/** What one source's reload did. */
export interface SourceReload { source: string; added: string[]; updated: string[]; removed: string[]; error?: string }

/** The projects this master builds, changed at run time; plugins reach it as `rt.projects`. */
export interface ProjectRegistry {
  /** Registered projects, by name. */
  list(): Promise<ProjectEntity[]>
  get(name: string): Promise<ProjectEntity | undefined>
  /** Registers a project, or updates it if registered (its source becomes `source`). */
  add(spec: ProjectSpec, source?: string): Promise<ProjectEntity>
  update(name: string, patch: Partial<Omit<ProjectSpec, 'name'>>): Promise<ProjectEntity>
  /** Takes a project out of the registry (its builds stay); false if it was not registered. */
  remove(name: string): Promise<boolean>
  /** Makes `source`'s projects exactly `specs`: adds, updates, and removes those it no longer lists. */
  sync(source: string, specs: ProjectSpec[]): Promise<SourceReload>
  /** Asks every project source again and syncs each; a source that fails keeps its projects. */
  reload(): Promise<SourceReload[]>
  /** Called after every change, in order. */
  subscribe(fn: (e: ProjectEvent) => void): { unsubscribe(): void }
}

function check(spec: ProjectSpec): void {
  const bad: string[] = []
  if (!spec || typeof spec.name !== 'string' || !spec.name.trim()) bad.push("a project needs a name, e.g. 'owner/repo'")
  else if (typeof spec.cloneUrl !== 'string' || !spec.cloneUrl) bad.push(`project '${spec.name}' needs cloneUrl (a git URL or local path)`)
  if (spec?.branches !== undefined && !(Array.isArray(spec.branches) && spec.branches.every((b) => typeof b === 'string'))) bad.push(`project '${spec.name}': branches must be a list of globs`)
  if (spec?.pollInterval != null && !(typeof spec.pollInterval === 'number' && spec.pollInterval > 0)) bad.push(`project '${spec.name}': pollInterval must be seconds > 0`)
  if (bad.length) throw new Error(bad.join('; '))
}

const toSpec = (p: ProjectEntity): ProjectSpec => ({
  name: p.name, forge: p.forge, cloneUrl: p.clone_url ?? '', defaultBranch: p.default_branch ?? 'main', private: p.private, owner: p.owner,
  webUrl: p.web_url, description: p.description, branches: p.branches, pollInterval: p.poll_interval,
})

/** The registry over the data layer; changes run one at a time. */
export function createProjectRegistry(deps: { data: () => Data; log: Logger; sources: () => ProjectSource[] }): ProjectRegistry {
  const listeners = new Set<(e: ProjectEvent) => void>()
  const queue = createSerialQueue()
  const emit = (e: ProjectEvent) => {
    for (const fn of [...listeners]) {
      try { fn(e) } catch (err) { deps.log.error({ project: e.project.name, err: (err as Error).message }, 'a project registry subscriber failed') }
    }
  }
  const serial = <T>(job: () => Promise<T>): Promise<T> => (queue.inside() ? job() : queue.run(job))

  async function addNow(spec: ProjectSpec, source: string): Promise<{ project: ProjectEntity; change: 'added' | 'updated' | 'unchanged' }> {
    check(spec)
    const r = await deps.data().projects.registerProject(spec, source)
    if (r.change !== 'unchanged') emit({ type: r.change, project: r.project })
    return r
  }
  async function removeNow(name: string): Promise<boolean> {
    const p = await deps.data().projects.unregisterProject(name)
    if (p) emit({ type: 'removed', project: p })
    return !!p
  }
  async function syncNow(source: string, specs: ProjectSpec[]): Promise<SourceReload> {
    for (const s of specs) check(s)
    const out: SourceReload = { source, added: [], updated: [], removed: [] }
    const want = new Set(specs.map((s) => s.name))
    for (const p of await deps.data().projects.registeredProjects()) {
      if (p.source === source && !want.has(p.name) && await removeNow(p.name)) out.removed.push(p.name)
    }
    for (const s of specs) {
      const r = await addNow(s, source)
      if (r.change === 'added') out.added.push(s.name)
      else if (r.change === 'updated') out.updated.push(s.name)
    }
    return out
  }

  return {
    list: () => deps.data().projects.registeredProjects(),
    async get(name) { const p = await deps.data().projects.getProject(name); return p?.registered ? p : undefined },
    add: (spec, source = 'runtime') => serial(async () => (await addNow(spec, source)).project),
    update: (name, patch) => serial(async () => {
      const p = await deps.data().projects.getProject(name)
      if (!p?.registered) throw new Error(`no registered project named '${name}'`)
      return (await addNow({ ...toSpec(p), ...patch, name }, p.source ?? 'runtime')).project
    }),
    remove: (name) => serial(() => removeNow(name)),
    sync: (source, specs) => serial(() => syncNow(source, specs)),
    reload: () => serial(async () => {
      const out: SourceReload[] = []
      for (const src of deps.sources()) {
        let specs: ProjectSpec[]
        try {
          specs = await src.discover()
          for (const s of specs) check(s)
        } catch (err) {
          deps.log.error({ source: src.name, err: (err as Error).message }, 'project discovery failed; the projects it found before stay')
          out.push({ source: src.name, added: [], updated: [], removed: [], error: (err as Error).message })
          continue
        }
        out.push(await syncNow(src.name, specs))
      }
      return out
    }),
    subscribe(fn) { listeners.add(fn); return { unsubscribe: () => { listeners.delete(fn) } } },
  }
}
