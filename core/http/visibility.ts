import type { Kysely } from 'kysely'
import type { Database } from '../db/schema.ts'
import type { Bus } from '../bus/bus.ts'
import type { UserInfo } from './master-surface.ts'
import type { ProjectRef } from './authz/endpoint-matcher.ts'

/** A private project, as visibility functions see it. */
export interface PrivateProject extends ProjectRef { projectid: number; private: true }

/**
 * Whether a user may see a private project (a plugin's, `api.addProjectVisibility`). Asked for
 * projects marked private only; a project is hidden when any function answers false. Anonymous
 * users are asked too.
 */
export type ProjectVisibilityFn = (args: { user: UserInfo; project: PrivateProject }) => boolean | Promise<boolean>

/**
 * What one user may not see: projects, their builders, and their sources (changes, sourcestamps
 * and buildsets name a project or its repository). Empty sets: everything is visible.
 */
export interface Hidden {
  projects: ReadonlySet<number>; builders: ReadonlySet<number>; builderNames: ReadonlySet<string>
  /** Names of the hidden projects, as a change's or sourcestamp's `project` gives them. */
  projectNames: ReadonlySet<string>
  /** Clone and web URLs of the hidden projects, as a change's or sourcestamp's `repository` gives them. */
  repositories: ReadonlySet<string>
}
export const NOTHING_HIDDEN: Hidden = { projects: new Set(), builders: new Set(), builderNames: new Set(), projectNames: new Set(), repositories: new Set() }

/**
 * The ids that link data to builders: build → builder, step → build, log → step. Learned from
 * the bus as builds, steps and logs are made (so `/ws` decides without a query), looked up in the
 * database for older ones.
 */
export interface OwnershipIndex {
  builderOfBuild(buildid: number): number | undefined
  buildOfStep(stepid: number): number | undefined
  stepOfLog(logid: number): number | undefined
  /** The builders a buildset requested (known from its requests' events, published before the buildset's). */
  buildersOfBuildset(bsid: number): readonly number[] | undefined
  /** Looks up the builders of these buildsets in the database where they are not known yet. */
  resolveBuildsets(bsids: readonly number[]): Promise<void>
  /** The builder an entity or event concerns, when it names one through these links; undefined when unknown. */
  builderOf(key: readonly string[], message: unknown): number | undefined
  /** As `builderOf`, looking unknown links up in the database. */
  resolveBuilder(key: readonly string[], message: unknown): Promise<number | undefined>
  close(): void
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined)
const LIMIT = 100_000

export function createOwnershipIndex(k: Kysely<Database>, bus: Bus): OwnershipIndex {
  const builds = new Map<number, number>(), steps = new Map<number, number>(), logs = new Map<number, number>()
  const buildsets = new Map<number, number[]>()
  const addBuilder = (bsid: number | undefined, builderid: number | undefined) => {
    if (bsid === undefined || builderid === undefined) return
    const known = buildsets.get(bsid)
    if (known) { if (!known.includes(builderid)) known.push(builderid); return }
    if (buildsets.size >= LIMIT) buildsets.delete(buildsets.keys().next().value!)
    buildsets.set(bsid, [builderid])
  }
  const remember = (m: Map<number, number>, a: number | undefined, b: number | undefined) => {
    if (a === undefined || b === undefined) return
    if (m.size >= LIMIT) m.delete(m.keys().next().value!)
    m.set(a, b)
  }
  const subs = [
    bus.subscribe(['builds', null, 'new'], (_k, m) => remember(builds, num((m as Record<string, unknown>).buildid), num((m as Record<string, unknown>).builderid))),
    bus.subscribe(['steps', null, 'new'], (_k, m) => remember(steps, num((m as Record<string, unknown>).stepid), num((m as Record<string, unknown>).buildid))),
    bus.subscribe(['logs', null, 'new'], (_k, m) => remember(logs, num((m as Record<string, unknown>).logid), num((m as Record<string, unknown>).stepid))),
    bus.subscribe(['buildrequests', null, 'new'], (_k, m) => addBuilder(num((m as Record<string, unknown>).buildsetid), num((m as Record<string, unknown>).builderid))),
  ]
  /** The (kind, id) an entity or event is about, most specific link first. */
  const links = (key: readonly string[], message: unknown) => {
    const m = (message && typeof message === 'object' ? message : {}) as Record<string, unknown>
    const fromKey = (kind: string) => { const i = key.indexOf(kind); return i >= 0 ? num(key[i + 1]) : undefined }
    return {
      builderid: num(m.builderid) ?? fromKey('builders'),
      buildid: num(m.buildid) ?? fromKey('builds'),
      stepid: num(m.stepid) ?? fromKey('steps'),
      logid: num(m.logid) ?? fromKey('logs'),
    }
  }
  const idx: OwnershipIndex = {
    builderOfBuild: (id) => builds.get(id),
    buildOfStep: (id) => steps.get(id),
    stepOfLog: (id) => logs.get(id),
    buildersOfBuildset: (bsid) => buildsets.get(bsid),
    async resolveBuildsets(bsids) {
      const unknown = [...new Set(bsids)].filter((b) => !buildsets.has(b))
      for (let i = 0; i < unknown.length; i += 500) {
        const part = unknown.slice(i, i + 500)
        for (const b of part) buildsets.set(b, [])
        const rows = await k.selectFrom('buildrequests').select(['buildsetid', 'builderid']).where('buildsetid', 'in', part).execute()
        for (const r of rows) addBuilder(r.buildsetid, r.builderid)
      }
    },
    builderOf(key, message) {
      const l = links(key, message)
      if (l.builderid !== undefined) return l.builderid
      const stepid = l.stepid ?? (l.logid !== undefined ? logs.get(l.logid) : undefined)
      const buildid = l.buildid ?? (stepid !== undefined ? steps.get(stepid) : undefined)
      return buildid !== undefined ? builds.get(buildid) : undefined
    },
    async resolveBuilder(key, message) {
      const l = links(key, message)
      if (l.builderid !== undefined) return l.builderid
      let stepid = l.stepid
      if (stepid === undefined && l.logid !== undefined) {
        stepid = logs.get(l.logid) ?? (await k.selectFrom('logs').select('stepid').where('logid', '=', l.logid).executeTakeFirst())?.stepid
        remember(logs, l.logid, stepid)
      }
      let buildid = l.buildid
      if (buildid === undefined && stepid !== undefined) {
        buildid = steps.get(stepid) ?? (await k.selectFrom('steps').select('buildid').where('stepid', '=', stepid).executeTakeFirst())?.buildid
        remember(steps, stepid, buildid)
      }
      if (buildid === undefined) return undefined
      const builderid = builds.get(buildid) ?? (await k.selectFrom('builds').select('builderid').where('buildid', '=', buildid).executeTakeFirst())?.builderid
      remember(builds, buildid, builderid)
      return builderid
    },
    close() { for (const s of subs) s.unsubscribe() },
  }
  return idx
}

/** The projects and builders `user` may not see: private projects some visibility function refuses. */
export async function hiddenFor(k: Kysely<Database>, fns: readonly ProjectVisibilityFn[], user: UserInfo, onError: (err: unknown) => void): Promise<Hidden> {
  if (!fns.length) return NOTHING_HIDDEN
  const rows = await k.selectFrom('projects').select(['projectid', 'name', 'owner', 'forge', 'clone_url', 'web_url']).where('private', '=', 1).execute()
  if (!rows.length) return NOTHING_HIDDEN
  const projects = new Set<number>(), projectNames = new Set<string>(), repositories = new Set<string>()
  for (const r of rows) {
    const project: PrivateProject = { projectid: r.projectid, name: r.name, owner: r.owner ?? null, forge: r.forge ?? null, private: true }
    for (const fn of fns) {
      let ok = false
      try { ok = (await fn({ user, project })) === true } catch (err) { onError(err) }
      if (!ok) {
        projects.add(r.projectid)
        projectNames.add(r.name)
        for (const url of [r.clone_url, r.web_url]) if (url) repositories.add(url)
        break
      }
    }
  }
  if (!projects.size) return NOTHING_HIDDEN
  const rows2 = await k.selectFrom('builders').select(['builderid', 'name']).where('projectid', 'in', [...projects]).execute()
  return { projects, builders: new Set(rows2.map((b) => b.builderid)), builderNames: new Set(rows2.map((b) => b.name)), projectNames, repositories }
}

/** Whether a change, sourcestamp or buildset names a hidden project or its repository (in itself or its sourcestamps). */
export function sourceHidden(h: Hidden, e: Record<string, unknown>): boolean {
  if (typeof e.project === 'string' && h.projectNames.has(e.project)) return true
  if (typeof e.repository === 'string' && h.repositories.has(e.repository)) return true
  if (e.sourcestamp && typeof e.sourcestamp === 'object' && sourceHidden(h, e.sourcestamp as Record<string, unknown>)) return true
  if (Array.isArray(e.sourcestamps)) return e.sourcestamps.some((s) => s && typeof s === 'object' && sourceHidden(h, s as Record<string, unknown>))
  return false
}

/** Whether an entity or event carries source fields (a change, sourcestamp or buildset). */
export const namesSource = (e: Record<string, unknown>): boolean => typeof e.repository === 'string' || typeof e.project === 'string' || 'sourcestamp' in e || Array.isArray(e.sourcestamps)

/**
 * Whether a buildset (an entity with `bsid`, not a request's `buildsetid`) is hidden through what
 * it builds: a hidden builder among its requests, or a parent build of a hidden builder.
 */
export function buildsetHidden(h: Hidden, e: Record<string, unknown>, index: OwnershipIndex): boolean {
  const bsid = num(e.bsid)
  if (bsid === undefined || e.buildrequestid !== undefined) return false
  if (index.buildersOfBuildset(bsid)?.some((b) => h.builders.has(b))) return true
  const parent = num(e.parent_buildid)
  const parentBuilder = parent !== undefined ? index.builderOfBuild(parent) : undefined
  return parentBuilder !== undefined && h.builders.has(parentBuilder)
}

export const nothingHidden = (h: Hidden) => h.projects.size === 0 && h.builders.size === 0 && h.projectNames.size === 0

/**
 * Whether an entity (a REST answer's row) belongs to a hidden project or builder, by its own
 * fields (a buildset's builders and parent build through `index`: resolve them first). A force scheduler's `builder_names` lose the hidden builders; one left with none is hidden.
 */
export function entityHidden(h: Hidden, e: Record<string, unknown>, index: OwnershipIndex): boolean {
  const projectid = num(e.projectid)
  if (projectid !== undefined && h.projects.has(projectid)) return true
  const builderid = index.builderOf([], e)
  if (builderid !== undefined && h.builders.has(builderid)) return true
  if (sourceHidden(h, e) || buildsetHidden(h, e, index)) return true
  if (Array.isArray(e.builder_names) && e.builder_names.length) {
    e.builder_names = e.builder_names.filter((n) => !h.builderNames.has(String(n)))
    if (!(e.builder_names as unknown[]).length) return true
  }
  return false
}
