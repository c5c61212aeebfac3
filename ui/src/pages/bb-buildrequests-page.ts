import { LitElement, html, css, nothing } from 'lit'
import { ResourceController } from '../controllers/resource-controller.ts'
import { sharedStyles } from '../components/shared-styles.ts'
import { builderHref } from '../router/route.ts'
import '../components/bb-action.ts'
import { timeAt } from '../components/time-at.ts'

/**
 * Pending build requests: not complete and not claimed (a claimed one is running: its build has
 * Stop), live, each with a cancel action.
 */
export class BbBuildrequestsPage extends LitElement {
  static override styles = [sharedStyles, css`td.wrap { overflow-wrap: anywhere; }`]
  private readonly requests = new ResourceController(this, {
    path: 'buildrequests?complete=false&claimed=false', accept: (r) => !r.complete && !r.claimed,
  })
  private readonly builders = new ResourceController(this, { path: 'builders', wsPath: false })

  override render() {
    const names = new Map(this.builders.items.map((b) => [b.builderid, b.name as string]))
    const list = this.requests.items.filter((r) => !r.complete && !r.claimed).sort((a, b) => (a.buildrequestid as number) - (b.buildrequestid as number))
    return html`
      <h1>Pending build requests</h1>
      ${this.requests.error ? html`<p class="error" role="alert">${this.requests.error}</p>` : nothing}
      ${!list.length && !this.requests.loading ? html`<p class="muted">Nothing is waiting.</p>` : nothing}
      ${list.length ? html`<table aria-label="pending build requests">
        <thead><tr><th>Request</th><th>Builder</th><th class="hide-narrow">Submitted</th><th>Action</th></tr></thead>
        <tbody>${list.map((r) => html`<tr data-buildrequest=${r.buildrequestid}>
          <td><a href="#/buildrequests/${r.buildrequestid}">request ${r.buildrequestid}</a></td>
          <td class="wrap"><a href=${builderHref(r.builderid as number)}>${names.get(r.builderid) ?? r.builderid}</a></td>
          <td class="muted hide-narrow">${timeAt(r.submitted_at)}</td>
          <td><bb-action label="Cancel" action="cancel" path="buildrequests/${r.buildrequestid}" method="cancel"></bb-action></td>
        </tr>`)}</tbody></table>` : nothing}`
  }
}

customElements.define('bb-buildrequests-page', BbBuildrequestsPage)
