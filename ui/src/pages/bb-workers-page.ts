import { LitElement, html, nothing } from 'lit'
import { ResourceController } from '../controllers/resource-controller.ts'
import { sharedStyles } from '../components/shared-styles.ts'
import { buildHref } from '../router/route.ts'

interface Worker {
  workerid: number; name: string; connected_to: { masterid: number }[]; paused: boolean
  pause_reason?: string | null; graceful: boolean; workerinfo?: Record<string, unknown>
}

/** Workers: connection, paused state and the builds running on each. */
export class BbWorkersPage extends LitElement {
  static override styles = [sharedStyles]
  private readonly workers = new ResourceController<Worker & Record<string, unknown>>(this, { path: 'workers' })
  private readonly running = new ResourceController(this, {
    path: 'builds?complete=false', wsPath: 'builds/*/*', accept: (b) => !b.complete,
  })

  override render() {
    const workers = [...this.workers.items].sort((a, b) => a.name.localeCompare(b.name))
    return html`
      <h1>Workers</h1>
      ${this.workers.error ? html`<p class="error" role="alert">${this.workers.error}</p>` : nothing}
      <table aria-label="workers">
        <thead><tr><th>Name</th><th>Connected</th><th>State</th><th>Running builds</th><th class="hide-narrow">Info</th></tr></thead>
        <tbody>${workers.map((w) => {
          const connected = (w.connected_to ?? []).length > 0
          const builds = this.running.items.filter((b) => b.workerid === w.workerid)
          return html`<tr data-worker=${w.name}>
            <td>${w.name}</td>
            <td><span class="badge ${connected ? 'success' : 'failure'}">${connected ? 'connected' : 'offline'}</span></td>
            <td>${w.paused ? html`<span class="badge warnings">paused</span> <span class="muted">${w.pause_reason ?? ''}</span>`
              : w.graceful ? html`<span class="badge warnings">stopping</span>` : html`<span class="muted">active</span>`}</td>
            <td>${builds.length ? builds.map((b) => html`<a href=${buildHref(b.buildid as number)}>#${b.buildid}</a> `) : html`<span class="muted">idle</span>`}</td>
            <td class="muted hide-narrow mono">${w.workerinfo?.version ?? ''} ${w.workerinfo?.host ?? ''}</td>
          </tr>`
        })}</tbody>
      </table>`
  }
}

customElements.define('bb-workers-page', BbWorkersPage)
