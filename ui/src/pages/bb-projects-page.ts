import { LitElement, html, css, nothing } from 'lit'
import { ResourceController } from '../controllers/resource-controller.ts'
import { sharedStyles } from '../components/shared-styles.ts'
import { resultBadge } from '../components/result-badge.ts'
import { branchRows, defaultBranchRow, isEvalBuild, type BuildLike } from '../util/branches.ts'
import { prop, resultName } from '../util/format.ts'
import { buildHref } from '../router/route.ts'
import { BRANCH_PROPERTIES } from './build-properties-query.ts'
import '../components/bb-action.ts'
import { timeAt } from '../components/time-at.ts'

interface Project { projectid: number; name: string; slug: string; description?: string | null }
interface Builder { builderid: number; name: string; projectid?: number | null }

/** Every project with its default-branch state, its last builds and a badge-like summary. */
export class BbProjectsPage extends LitElement {
  static override styles = [sharedStyles, css`
    .last { list-style: none; padding: 0; margin: .5rem 0 0; display: grid; gap: .25rem; }
    .last li { display: grid; grid-template-columns: auto minmax(0, 1fr) auto; gap: .5rem; align-items: center; }
    .last a { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  `]
  private readonly projects = new ResourceController<Project & Record<string, unknown>>(this, { path: 'projects' })
  private readonly builders = new ResourceController<Builder & Record<string, unknown>>(this, { path: 'builders' })
  private readonly builds = new ResourceController<BuildLike & Record<string, unknown>>(this, {
    path: `builds?order=-buildid&limit=300&${BRANCH_PROPERTIES}`, wsPath: 'builds/*/*', refetchOnNew: true,
  })

  override render() {
    const error = this.projects.error
    const builderById = new Map(this.builders.items.map((b) => [b.builderid, b]))
    const projects = [...this.projects.items].sort((a, b) => a.name.localeCompare(b.name))
    return html`
      <div class="row" style="justify-content: space-between">
        <h1>Projects</h1>
        <bb-action label="Reload projects" action="reload" path="projects" method="reload" doneText="Projects reloaded"></bb-action>
      </div>
      ${error ? html`<p class="error" role="alert">${error}</p>` : nothing}
      ${this.projects.loading && !projects.length ? html`<p class="muted">Loading…</p>` : nothing}
      ${!this.projects.loading && !projects.length && !error ? html`<p class="notice">No projects yet.</p>` : nothing}
      <div class="cards" role="list">
        ${projects.map((p) => this.renderProject(p, builderById))}
      </div>`
  }

  private renderProject(p: Project, builderById: Map<number, Builder>) {
    const builds = this.builds.items.filter((b) => builderById.get(b.builderid)?.projectid === p.projectid)
    const evals = builds.filter((b) => isEvalBuild(b, builderById.get(b.builderid)?.name))
    const rows = branchRows(evals)
    const main = defaultBranchRow(rows, evals)
    const state = main ? resultName(main.latest.results, main.latest.complete) : 'no builds'
    return html`
      <article class="card" role="listitem" aria-label="project ${p.name}" data-project=${p.projectid}>
        <div class="row" style="justify-content: space-between">
          <a href="#/projects/${p.projectid}"><strong>${p.name}</strong></a>
          <span class="badge ${state}" title="default branch ${main?.branch ?? ''}">${main ? `${main.branch}: ${state}` : state}</span>
        </div>
        ${p.description ? html`<p class="muted">${p.description}</p>` : nothing}
        <div class="row muted" style="font-size: .85rem">
          ${rows.filter((r) => r.kind === 'pr').length} open PR builds · ${evals.length} evaluation${evals.length === 1 ? '' : 's'}
        </div>
        <ul class="last" aria-label="last evaluations">
          ${(evals.length ? evals : builds).slice(0, 5).map((b) => html`<li>
            ${resultBadge(b.results, b.complete)}
            <a href=${buildHref(b.buildid)} title=${builderById.get(b.builderid)?.name ?? ''}>${buildLabel(b)} · #${b.number}</a>
            <span class="muted hide-narrow">${timeAt(b.started_at)}</span>
          </li>`)}
        </ul>
      </article>`
  }
}

customElements.define('bb-projects-page', BbProjectsPage)

/** `main`, `PR #7`, or the builder's attribute for a child build. */
function buildLabel(b: BuildLike): string {
  const pr = prop(b.properties, 'pr_number')
  if (pr != null && pr !== '') return `PR #${pr}`
  return String(prop(b.properties, 'branch') ?? prop(b.properties, 'attr') ?? 'build')
}
