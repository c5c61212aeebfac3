import { LitElement, html, css, nothing } from 'lit'
import { ResourceController } from '../controllers/resource-controller.ts'
import { sharedStyles } from '../components/shared-styles.ts'
import { commitLinks } from '../components/commit-links.ts'
import { timeAt } from '../components/time-at.ts'

/** The newest changes (live): what was pushed, by whom, where, linked to the forge. */
export class BbChangesPage extends LitElement {
  static override styles = [sharedStyles, css`td.wrap { overflow-wrap: anywhere; }`]
  private readonly changes = new ResourceController(this, { path: 'changes?order=-changeid&limit=50' })
  private readonly projects = new ResourceController(this, { path: 'projects', wsPath: false })

  override render() {
    const byName = new Map(this.projects.items.map((p) => [p.name, p]))
    const changes = [...this.changes.items].sort((a, b) => (b.changeid as number) - (a.changeid as number))
    return html`
      <h1>Changes</h1>
      ${this.changes.error ? html`<p class="error" role="alert">${this.changes.error}</p>` : nothing}
      <table aria-label="changes">
        <thead><tr><th>Change</th><th>Commit, branch</th><th class="hide-narrow">Author</th><th class="hide-narrow">Project</th><th>When</th></tr></thead>
        <tbody>${changes.map((c) => {
          const p = byName.get(c.project) ?? {}
          return html`<tr data-change=${c.changeid as number}>
            <td class="wrap">${String(c.comments ?? '').split('\n')[0] || html`<span class="muted">no message</span>`}</td>
            <td class="wrap">${commitLinks({ repository: c.repository, revlink: c.revlink, forge: p.forge, webUrl: p.web_url }, c.revision, c.branch)}</td>
            <td class="hide-narrow wrap">${String(c.author ?? '').replace(/\s*<[^>]*>$/, '')}</td>
            <td class="hide-narrow">${c.project ?? ''}</td>
            <td class="muted">${timeAt(c.when_timestamp)}</td>
          </tr>`
        })}</tbody>
      </table>
      ${!changes.length && !this.changes.loading ? html`<p class="muted">No changes yet.</p>` : nothing}`
  }
}

customElements.define('bb-changes-page', BbChangesPage)
