import { LitElement, html, nothing } from 'lit'
import { ResourceController } from '../controllers/resource-controller.ts'
import { sharedStyles } from '../components/shared-styles.ts'
import { resultBadge } from '../components/result-badge.ts'
import { buildHref, builderHref } from '../router/route.ts'
import { buildLabel } from '../util/build-label.ts'
import '../components/bb-action.ts'
import { timeAt } from '../components/time-at.ts'

/**
 * One build request (`#/buildrequests/<id>`, as Buildbot links it) and the builds it started.
 * With `follow` (after a force or rebuild) it opens the request's build as soon as there is one.
 */
export class BbBuildrequestPage extends LitElement {
  static override properties = { buildrequestid: { type: Number }, follow: { type: Boolean } }
  static override styles = [sharedStyles]
  declare buildrequestid: number
  declare follow: boolean
  private readonly request = new ResourceController(this, { path: null })
  private readonly builds = new ResourceController(this, { path: null, wsPath: 'builds/*/*', refetchOnNew: true })
  private readonly builder = new ResourceController(this, { path: null, wsPath: false })

  override willUpdate(): void {
    this.request.setPath(`buildrequests/${this.buildrequestid}`)
    this.builds.setPath(`buildrequests/${this.buildrequestid}/builds?property=virtual_builder_name`)
    const builderid = this.request.first?.builderid
    this.builder.setPath(builderid != null ? `builders/${builderid}` : null)
  }

  override updated(): void {
    // The reader may have gone elsewhere while this page was still shown (the router sees the new
    // address one task later): only a page that is still the address follows.
    const here = location.hash.split('?')[0] === `#/buildrequests/${this.buildrequestid}`
    if (!this.follow || !this.isConnected || !here) return
    const started = this.builds.items.filter((b) => b.buildrequestid === this.buildrequestid)
      .sort((a, b) => (b.buildid as number) - (a.buildid as number))[0]
    // Replace, not push: Back returns to the page the action was taken on.
    if (started) location.replace(buildHref(started.buildid as number))
  }

  override render() {
    const r = this.request.first
    if (this.request.errorStatus === 404) {
      return html`<p class="notice" role="alert">There is no build request ${this.buildrequestid}. <a href="#/buildrequests">Pending requests</a></p>`
    }
    if (this.request.error) return html`<p class="error" role="alert">Could not load this request: ${this.request.error}</p>`
    if (!r) return html`<p class="muted">Loading…</p>`
    const builds = this.builds.items.filter((b) => b.buildrequestid === this.buildrequestid)
    const waiting = this.follow && !builds.length && !r.complete
    return html`
      <nav aria-label="Breadcrumb"><a href="#/buildrequests">Pending</a> /</nav>
      <div class="row" style="justify-content: space-between">
        <h1>Build request ${r.buildrequestid}</h1>
        ${!r.complete ? html`<bb-action label="Cancel" action="cancel" path="buildrequests/${r.buildrequestid}" method="cancel"></bb-action>` : nothing}
      </div>
      <p class="row">${resultBadge(r.results, r.complete as boolean)}
        <a href=${builderHref(r.builderid as number)}>${(this.builder.first?.name as string | undefined) ?? `builder ${r.builderid}`}</a>
        <span class="muted">submitted ${timeAt(r.submitted_at)}${r.claimed ? ', claimed' : ''}</span></p>
      <h2>Builds</h2>
      ${builds.length ? html`<ul>${builds.map((b) => html`<li>${resultBadge(b.results, b.complete as boolean)}
        <a href=${buildHref(b.buildid as number)}>${buildLabel(b, this.builder.first?.name as string | undefined)}</a> <span class="muted">${b.state_string}</span></li>`)}</ul>`
        : html`<p class="muted" data-testid="waiting">${waiting ? 'Waiting for a worker; the build opens here when it starts.' : 'No build started yet.'}</p>`}`
  }
}

customElements.define('bb-buildrequest-page', BbBuildrequestPage)
