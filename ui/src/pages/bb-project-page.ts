import { LitElement, html, nothing } from 'lit'
import { ResourceController } from '../controllers/resource-controller.ts'
import { sharedStyles } from '../components/shared-styles.ts'
import { resultBadge } from '../components/result-badge.ts'
import { branchRows, isEvalBuild, type BuildLike } from '../util/branches.ts'
import { prop } from '../util/format.ts'
import { buildHref, builderHref, routeHref } from '../router/route.ts'
import { BRANCH_PROPERTIES } from './build-properties-query.ts'
import { timeAt } from '../components/time-at.ts'

interface Builder { builderid: number; name: string; description?: string | null; tags?: string[] }

/** One project: its builders, and its branches and pull requests with their latest evaluation. */
export class BbProjectPage extends LitElement {
  static override properties = { projectid: { type: Number } }
  static override styles = [sharedStyles]
  declare projectid: number
  private readonly project = new ResourceController(this, { path: null })
  private readonly builders = new ResourceController<Builder & Record<string, unknown>>(this, { path: null })
  private readonly builds = new ResourceController<BuildLike & Record<string, unknown>>(this, {
    path: null, wsPath: 'builds/*/*', refetchOnNew: true,
  })

  override willUpdate(): void {
    this.project.setPath(`projects/${this.projectid}`)
    this.builders.setPath(`projects/${this.projectid}/builders`)
    const ids = this.builders.items.map((b) => b.builderid).sort((a, b) => a - b)
    // The builds of this project's builders only: one request filtered by builderid.
    this.builds.setPath(ids.length
      ? `builds?order=-buildid&limit=500&${ids.map((id) => `builderid=${id}`).join('&')}&${BRANCH_PROPERTIES}`
      : null)
  }

  override render() {
    const p = this.project.first as { name?: string; description?: string } | undefined
    const builderById = new Map(this.builders.items.map((b) => [b.builderid, b]))
    const builds = this.builds.items.filter((b) => builderById.has(b.builderid))
    const evals = builds.filter((b) => isEvalBuild(b, builderById.get(b.builderid)?.name))
    const rows = branchRows(evals)
    return html`
      <nav aria-label="Breadcrumb"><a href="#/projects">Projects</a> /</nav>
      <h1>${p?.name ?? `Project ${this.projectid}`}</h1>
      ${this.project.error ? html`<p class="error" role="alert">${this.project.error}</p>` : nothing}
      ${p?.description ? html`<p class="muted">${p.description}</p>` : nothing}
      <h2>Branches and pull requests</h2>
      ${rows.length ? html`<table aria-label="branches and pull requests">
        <thead><tr><th>Branch / PR</th><th>Latest evaluation</th><th>Result</th><th class="hide-narrow">Matrix</th><th class="hide-narrow">Revision</th><th class="hide-narrow">When</th></tr></thead>
        <tbody>${rows.map((r) => html`<tr data-branch=${r.label}>
          <td>${r.label}${r.kind === 'pr' ? html` <span class="muted">(${r.branch})</span>` : html` <a href=${routeHref({ name: 'history', projectid: this.projectid, branch: r.branch, offset: 0, attr: '', q: '' })}>history</a>`}</td>
          <td><a href=${buildHref(r.latest.buildid)}>${builderById.get(r.latest.builderid)?.name} #${r.latest.number}</a></td>
          <td>${resultBadge(r.latest.results, r.latest.complete)}</td>
          <td class="muted hide-narrow" data-testid="matrix">${matrixText(r.latest)}</td>
          <td class="mono hide-narrow" data-testid="revision">${String(prop(r.latest.properties, 'got_revision') ?? prop(r.latest.properties, 'revision') ?? '').slice(0, 12)}</td>
          <td class="muted hide-narrow">${timeAt(r.latest.started_at)}</td>
        </tr>`)}</tbody></table>`
        : html`<p class="muted">${this.builds.loading ? 'Loading…' : 'No evaluations yet.'}</p>`}
      <h2>Builders</h2>
      <table aria-label="builders">
        <thead><tr><th>Builder</th><th>Last build</th></tr></thead>
        <tbody>${this.builders.items.map((b) => {
          const mine = builds.filter((x) => x.builderid === b.builderid)
          const last = mine[0]
          if (isPerAttribute(b.name)) {
            // One build per attribute: "the last one" is whichever check happened to finish last.
            const failed = mine.filter((x) => x.complete && x.results !== 0 && x.results !== 1).length
            return html`<tr data-builder=${b.name}><td><a href=${builderHref(b.builderid)}>${b.name}</a></td>
              <td class="muted">one build per attribute: ${mine.length} recent${failed ? html`, <span class="badge failure">${failed} failed</span>` : ''}
                · see each evaluation's matrix</td></tr>`
          }
          return html`<tr data-builder=${b.name}><td><a href=${builderHref(b.builderid)}>${b.name}</a></td>
            <td>${last ? html`${resultBadge(last.results, last.complete)} <a href=${buildHref(last.buildid)}>${b.name} #${last.number}</a>` : html`<span class="muted">none</span>`}</td></tr>`
        })}</tbody>
      </table>`
  }
}

customElements.define('bb-project-page', BbProjectPage)

/** Builders of the Nix plugin that run one build per attribute of an evaluation. */
function isPerAttribute(name: string): boolean {
  return /\/nix-(build|failed-eval|dependency-failed|cached-failure)$/.test(name)
}

/** The matrix in words: the counts the evaluation's final text names (`3 failed, 2 success`), or its progress. */
function matrixText(b: BuildLike): string {
  const text = b.state_string ?? ''
  const counts = /\(([^()]*\d+ [a-z-]+[^()]*)\)\s*$/.exec(text)
  if (counts) return counts[1]!
  return b.complete ? text : 'running'
}
