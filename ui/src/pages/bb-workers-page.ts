import { LitElement, html, nothing } from 'lit'
import { ResourceController } from '../controllers/resource-controller.ts'
import { sharedStyles } from '../components/shared-styles.ts'
import { buildHref } from '../router/route.ts'
import { buildLabel } from '../util/build-label.ts'
import '../components/bb-action.ts'

interface Worker {
  workerid: number; name: string; connected_to: { masterid: number }[]; paused: boolean
  pause_reason?: string | null; graceful: boolean; workerinfo?: Record<string, unknown>
}

/**
 * Workers: connection, paused state, the builds running on each, and Buildbot's worker actions:
 * pause (no new builds; running ones finish), unpause, and a graceful stop (disconnect once idle).
 */
export class BbWorkersPage extends LitElement {
  static override styles = [sharedStyles]
  private readonly workers = new ResourceController<Worker & Record<string, unknown>>(this, { path: 'workers' })
  private readonly running = new ResourceController(this, {
    path: 'builds?complete=false&property=virtual_builder_name', wsPath: 'builds/*/*', accept: (b) => !b.complete, refetchOnNew: true,
  })
  private readonly builders = new ResourceController(this, { path: 'builders', wsPath: false })

  override render() {
    const workers = [...this.workers.items].sort((a, b) => a.name.localeCompare(b.name))
    const names = new Map(this.builders.items.map((x) => [x.builderid, x.name as string]))
    return html`
      <h1>Workers</h1>
      ${this.workers.error ? html`<p class="error" role="alert">${this.workers.error}</p>` : nothing}
      <table aria-label="workers">
        <thead><tr><th>Name</th><th>Connected</th><th>State</th><th>Running builds</th><th>Actions</th><th class="hide-narrow">Info</th></tr></thead>
        <tbody>${workers.map((w) => {
          const connected = (w.connected_to ?? []).length > 0
          const builds = this.running.items.filter((b) => b.workerid === w.workerid)
          const path = `workers/${w.workerid}`
          return html`<tr data-worker=${w.name}>
            <td>${w.name}</td>
            <td><span class="badge ${connected ? 'success' : 'failure'}">${connected ? 'connected' : 'offline'}</span></td>
            <td data-testid="worker-state">${w.paused ? html`<span class="badge warnings">paused</span> <span class="muted">${w.pause_reason ?? ''}</span>`
              : w.graceful ? html`<span class="badge warnings">stopping</span>` : html`<span class="muted">active</span>`}</td>
            <td>${builds.length ? builds.map((b) => html`<a href=${buildHref(b.buildid as number)}>${buildLabel(b, names.get(b.builderid))}</a> `) : html`<span class="muted">idle</span>`}</td>
            <td><div class="row">
              ${w.paused
                ? html`<bb-action label="Unpause" action="worker" path=${path} method="unpause" doneText="Unpaused"></bb-action>`
                : html`<bb-action label="Pause" action="worker" path=${path} method="pause" doneText="Paused" confirm="Pause ${w.name}? It takes no new builds; running ones finish."></bb-action>`}
              ${connected && !w.graceful ? html`<bb-action label="Stop gracefully" action="worker" path=${path} method="stop" doneText="Stopping"
                confirm="Stop ${w.name} once its running builds finish?"></bb-action>` : nothing}
            </div></td>
            <td class="muted hide-narrow mono">${w.workerinfo?.version ?? ''} ${w.workerinfo?.host ?? ''}</td>
          </tr>`
        })}</tbody>
      </table>`
  }
}

customElements.define('bb-workers-page', BbWorkersPage)
