import type { PartsGroup } from './parts-check.ts'

export type { PartsGroup }

/** What a plugin instance uses to add and remove named groups of parts (`rt.parts`). */
export interface RuntimeParts {
  /**
   * Adds or replaces the group `key`: checked as configured parts are (a group with a mistake is
   * refused, its errors logged, and false returned), then applied without restarting other
   * groups or interrupting running builds.
   */
  set(key: string, group: PartsGroup): Promise<boolean>
  /** Removes the group: its schedulers and change sources stop; its running builds finish. */
  delete(key: string): Promise<boolean>
  /** Keys of this plugin's groups. */
  keys(): string[]
}

interface Entry { owner: string; key: string; group: PartsGroup }

/**
 * The groups plugins added at run time. A plugin instance started by a reconfigure stages its
 * groups; they replace that plugin's groups only when the new configuration is applied, so a
 * reconfigure that fails leaves the running groups as they were.
 */
export function createPartsStore() {
  const committed = new Map<string, Entry>()
  const staged = new Map<string, Map<string, PartsGroup>>()
  const id = (owner: string, key: string) => `${owner}\u0000${key}`
  return {
    set(owner: string, key: string, group: PartsGroup | undefined): void {
      if (group) committed.set(id(owner, key), { owner, key, group })
      else committed.delete(id(owner, key))
    },
    stage(owner: string, key: string, group: PartsGroup | undefined): void {
      const m = staged.get(owner) ?? new Map<string, PartsGroup>()
      staged.set(owner, m)
      if (group) m.set(key, group)
      else m.delete(key)
    },
    keys(owner: string, pending: boolean): string[] {
      if (pending) return [...(staged.get(owner)?.keys() ?? [])]
      return [...committed.values()].filter((e) => e.owner === owner).map((e) => e.key)
    },
    /** The groups that would run, without `owner`/`key`; `pendingOwner`'s staged groups replace its committed ones. */
    others(owner: string, key: string, pendingOwner?: string): PartsGroup[] {
      const out: PartsGroup[] = []
      for (const e of committed.values()) if (e.owner !== pendingOwner && !(e.owner === owner && e.key === key)) out.push(e.group)
      if (pendingOwner) for (const [k, g] of staged.get(pendingOwner) ?? []) if (k !== key) out.push(g)
      return out
    },
    /**
     * The new plugin instances (every plugin restarts on a reconfigure) are now the running
     * ones: their staged groups replace all groups.
     */
    promote(): void {
      committed.clear()
      for (const [owner, m] of staged) for (const [key, group] of m) committed.set(id(owner, key), { owner, key, group })
      staged.clear()
    },
    dropStaged(): void { staged.clear() },
    groups(): PartsGroup[] { return [...committed.values()].map((e) => e.group) },
  }
}

export type PartsStore = ReturnType<typeof createPartsStore>

/** All groups' parts in one list each. */
export function flatten(groups: PartsGroup[]): Required<PartsGroup> {
  return {
    builders: groups.flatMap((g) => g.builders ?? []),
    schedulers: groups.flatMap((g) => g.schedulers ?? []),
    changeSources: groups.flatMap((g) => g.changeSources ?? []),
  }
}
