import { LitElement, html, css, nothing } from 'lit'
import { ResourceController } from '../controllers/resource-controller.ts'
import { sharedStyles } from '../components/shared-styles.ts'
import { resultBadge } from '../components/result-badge.ts'
import { epochDuration, prop } from '../util/format.ts'
import { commitLinks } from '../components/commit-links.ts'
import { buildHref } from '../router/route.ts'
import type { ForceScheduler } from '../components/bb-force-form.ts'
import '../components/bb-force-form.ts'
import { timeAt } from '../components/time-at.ts'

const PROPS = ['attr', 'virtual_builder_name', 'branch', 'got_revision', 'revision', 'repository'].map((p) => `&property=${p}`).join('')

/**
 * One builder: its recent builds (live) and its force schedulers. A builder of one build per
 * attribute (the Nix plugin's nix-build) lists them by attribute, with commit and branch.
 */
export class BbBuilderPage extends LitElement {
  static override properties = { builderid: { type: Number } }
  static override styles = [sharedStyles, css`td.wrap { overflow-wrap: anywhere; }`]
  declare builderid: number
  private readonly builder = new ResourceController(this, { path: null })
  // Build events carry no properties: a new build is read again with its attribute and commit.
  private readonly builds = new ResourceController(this, { path: null, refetchOnNew: true })
  private readonly forceschedulers = new ResourceController<ForceScheduler & Record<string, unknown>>(this, { path: null, wsPath: false })
  private readonly project = new ResourceController(this, { path: null, wsPath: false })

  override willUpdate(): void {
    this.builder.setPath(`builders/${this.builderid}`)
    this.builds.setPath(`builders/${this.builderid}/builds?order=-number&limit=50${PROPS}`)
    this.forceschedulers.setPath(`builders/${this.builderid}/forceschedulers`)
    const projectid = this.builder.first?.projectid
    this.project.setPath(projectid != null ? `projects/${projectid}` : null)
  }

  override render() {
    const b = this.builder.first as { name?: string; description?: string; projectid?: number } | undefined
    const builds = [...this.builds.items].sort((x, y) => (y.number as number) - (x.number as number))
    const perAttr = builds.some((x) => prop(x.properties, 'attr') !== undefined)
    return html`
      <nav aria-label="Breadcrumb"><a href="#/builders">Builders</a> /
        ${b?.projectid ? html`<a href="#/projects/${b.projectid}">project</a>` : nothing}</nav>
      <h1>${b?.name ?? `Builder ${this.builderid}`}</h1>
      ${this.builder.error ? html`<p class="error" role="alert">${this.builder.error}</p>` : nothing}
      ${b?.description ? html`<p class="muted">${b.description}</p>` : nothing}
      <div class="row">${this.forceschedulers.items.map((s) => html`<bb-force-form .scheduler=${s} .builderid=${this.builderid}></bb-force-form>`)}</div>
      <h2>Builds</h2>
      ${perAttr ? this.renderAttributeBuilds(builds) : html`<table aria-label="builds">
        <thead><tr><th>#</th><th>Result</th><th>State</th><th class="hide-narrow">Started</th><th>Duration</th></tr></thead>
        <tbody>${builds.map((x) => html`<tr>
          <td><a href=${buildHref(x.buildid as number)}>#${x.number}</a></td>
          <td>${resultBadge(x.results, x.complete as boolean)}</td>
          <td>${x.state_string}</td>
          <td class="hide-narrow muted">${timeAt(x.started_at)}</td>
          <td>${epochDuration(x.started_at, x.complete_at)}</td>
        </tr>`)}</tbody>
      </table>`}
      ${!builds.length && !this.builds.loading ? html`<p class="muted">No builds yet.</p>` : nothing}`
  }

  /** One row per check: its attribute (the name a reader knows it by), result, commit and branch. */
  private renderAttributeBuilds(builds: Record<string, unknown>[]) {
    const p = this.project.first ?? {}
    return html`<table aria-label="builds" data-testid="attribute-builds">
      <thead><tr><th>Attribute</th><th>Result</th><th>Commit, branch</th><th class="hide-narrow">Started</th><th class="hide-narrow">Duration</th></tr></thead>
      <tbody>${builds.map((x) => {
        const props = x.properties
        const attr = String(prop(props, 'attr') ?? prop(props, 'virtual_builder_name') ?? '')
        return html`<tr data-attr=${attr}>
          <td class="wrap"><a href=${buildHref(x.buildid as number)}>${attr || 'build'} #${x.number}</a></td>
          <td>${resultBadge(x.results, x.complete as boolean)}</td>
          <td class="wrap">${commitLinks({ repository: prop(props, 'repository'), forge: p.forge, webUrl: p.web_url },
            prop(props, 'got_revision') ?? prop(props, 'revision'), prop(props, 'branch'))}</td>
          <td class="hide-narrow muted">${timeAt(x.started_at)}</td>
          <td class="hide-narrow">${epochDuration(x.started_at, x.complete_at)}</td>
        </tr>`
      })}</tbody>
    </table>`
  }
}

customElements.define('bb-builder-page', BbBuilderPage)
