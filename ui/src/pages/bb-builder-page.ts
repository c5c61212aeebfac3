import { LitElement, html, nothing } from 'lit'
import { ResourceController } from '../controllers/resource-controller.ts'
import { sharedStyles } from '../components/shared-styles.ts'
import { resultBadge } from '../components/result-badge.ts'
import { epochDuration, formatEpoch } from '../util/format.ts'
import { buildHref } from '../router/route.ts'
import type { ForceScheduler } from '../components/bb-force-form.ts'
import '../components/bb-force-form.ts'

/** One builder: its recent builds (live) and its force schedulers. */
export class BbBuilderPage extends LitElement {
  static override properties = { builderid: { type: Number } }
  static override styles = [sharedStyles]
  declare builderid: number
  private readonly builder = new ResourceController(this, { path: null })
  private readonly builds = new ResourceController(this, { path: null })
  private readonly forceschedulers = new ResourceController<ForceScheduler & Record<string, unknown>>(this, { path: null, wsPath: false })

  override willUpdate(): void {
    this.builder.setPath(`builders/${this.builderid}`)
    this.builds.setPath(`builders/${this.builderid}/builds?order=-number&limit=50`)
    this.forceschedulers.setPath(`builders/${this.builderid}/forceschedulers`)
  }

  override render() {
    const b = this.builder.first as { name?: string; description?: string; projectid?: number } | undefined
    const builds = [...this.builds.items].sort((x, y) => (y.number as number) - (x.number as number))
    return html`
      <nav aria-label="Breadcrumb"><a href="#/builders">Builders</a> /
        ${b?.projectid ? html`<a href="#/projects/${b.projectid}">project</a>` : nothing}</nav>
      <h1>${b?.name ?? `Builder ${this.builderid}`}</h1>
      ${this.builder.error ? html`<p class="error" role="alert">${this.builder.error}</p>` : nothing}
      ${b?.description ? html`<p class="muted">${b.description}</p>` : nothing}
      <div class="row">${this.forceschedulers.items.map((s) => html`<bb-force-form .scheduler=${s} .builderid=${this.builderid}></bb-force-form>`)}</div>
      <h2>Builds</h2>
      <table aria-label="builds">
        <thead><tr><th>#</th><th>Result</th><th>State</th><th class="hide-narrow">Started</th><th>Duration</th></tr></thead>
        <tbody>${builds.map((x) => html`<tr>
          <td><a href=${buildHref(x.buildid as number)}>#${x.number}</a></td>
          <td>${resultBadge(x.results, x.complete as boolean)}</td>
          <td>${x.state_string}</td>
          <td class="hide-narrow muted">${formatEpoch(x.started_at)}</td>
          <td>${epochDuration(x.started_at, x.complete_at)}</td>
        </tr>`)}</tbody>
      </table>
      ${!builds.length && !this.builds.loading ? html`<p class="muted">No builds yet.</p>` : nothing}`
  }
}

customElements.define('bb-builder-page', BbBuilderPage)
