import { LitElement, html, nothing } from 'lit'
import { ResourceController } from '../controllers/resource-controller.ts'
import { sharedStyles } from '../components/shared-styles.ts'
import { builderHref } from '../router/route.ts'

interface Builder { builderid: number; name: string; description?: string | null; tags?: string[]; projectid?: number | null }

/** All builders, searchable by name or tag. */
export class BbBuildersPage extends LitElement {
  static override properties = { query: { state: true } }
  static override styles = [sharedStyles]
  declare query: string
  private readonly builders = new ResourceController<Builder & Record<string, unknown>>(this, { path: 'builders' })

  constructor() { super(); this.query = '' }

  override render() {
    const q = this.query.toLowerCase()
    const list = this.builders.items
      .filter((b) => !q || b.name.toLowerCase().includes(q) || (b.tags ?? []).some((t) => t.toLowerCase().includes(q)))
      .sort((a, b) => a.name.localeCompare(b.name))
    return html`
      <h1>Builders</h1>
      <div class="row"><label for="q" class="sr-only">Filter builders</label>
        <input id="q" type="search" placeholder="Filter by name or tag" aria-label="Filter builders"
          .value=${this.query} @input=${(e: Event) => { this.query = (e.target as HTMLInputElement).value }}></div>
      ${this.builders.error ? html`<p class="error" role="alert">${this.builders.error}</p>` : nothing}
      <table aria-label="builders">
        <thead><tr><th>Name</th><th class="hide-narrow">Description</th><th>Tags</th></tr></thead>
        <tbody>${list.map((b) => html`<tr>
          <td><a href=${builderHref(b.builderid)}>${b.name}</a></td>
          <td class="muted hide-narrow">${b.description ?? ''}</td>
          <td>${(b.tags ?? []).map((t) => html`<span class="badge skipped">${t}</span> `)}</td>
        </tr>`)}</tbody>
      </table>`
  }
}

customElements.define('bb-builders-page', BbBuildersPage)
