import type { ProjectEntity, RoleMatcherFn } from '../../core/index.ts'

/**
 * Members of the Gitea organisation owning a project (the groups the Gitea sign-in gives the user)
 * and the user owning it get `admin` on that project's builders: force, rebuild, stop. Other
 * forges' projects are left to their plugins.
 */
export function giteaRoles(projects: () => Map<string, ProjectEntity>): RoleMatcherFn {
  return ({ user, target }) => {
    const groups = user.groups ?? []
    const mayOwn = (owner: string | null | undefined) => !!owner && (groups.includes(owner) || user.username === owner)
    // The UI asks what it may offer anywhere: any project of this forge the user may control.
    if (target.project === undefined) return [...projects().values()].some((p) => mayOwn(p.owner)) ? ['admin'] : []
    const p = target.project
    if (!p || p.forge !== 'gitea') return []
    return mayOwn(p.owner) ? ['admin'] : []
  }
}
