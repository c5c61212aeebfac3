import { LitElement, html, nothing } from 'lit'
import { ResourceController } from '../controllers/resource-controller.ts'
import { sharedStyles } from '../components/shared-styles.ts'
import { resultBadge } from '../components/result-badge.ts'
import { epochDuration, formatEpoch, prop } from '../util/format.ts'
import { buildHref, builderHref } from '../router/route.ts'
import './bb-step-logs.ts'
import '../components/bb-action.ts'
import '../components/bb-nix-matrix.ts'

/**
 * A build: state, actions, steps with durations and logs, properties, changes, its parent
 * (the buildset's `parent_buildid`) and the builds it triggered. An evaluation build also shows
 * its Nix build matrix.
 */
export class BbBuildPage extends LitElement {
  static override properties = { buildPath: {} }
  static override styles = [sharedStyles]
  declare buildPath: string
  private readonly build = new ResourceController(this, { path: null })
  private readonly builder = new ResourceController(this, { path: null, wsPath: false })
  private readonly steps = new ResourceController(this, { path: null })
  private readonly properties = new ResourceController(this, { path: null })
  private readonly request = new ResourceController(this, { path: null, wsPath: false })
  private readonly buildset = new ResourceController(this, { path: null, wsPath: false })
  private readonly triggered = new ResourceController(this, { path: null, wsPath: false })
  private readonly changes = new ResourceController(this, { path: null, wsPath: false })

  override willUpdate(): void {
    this.build.setPath(this.buildPath)
    const b = this.build.first
    const id = b?.buildid as number | undefined
    this.builder.setPath(b ? `builders/${b.builderid}` : null)
    this.steps.setPath(id ? `builds/${id}/steps` : null)
    this.properties.setPath(id ? `builds/${id}/properties` : null)
    this.triggered.setPath(id ? `builds/${id}/triggered_builds` : null)
    this.changes.setPath(id ? `builds/${id}/changes` : null)
    this.request.setPath(b?.buildrequestid ? `buildrequests/${b.buildrequestid}` : null)
    const bsid = this.request.first?.buildsetid
    this.buildset.setPath(bsid ? `buildsets/${bsid}` : null)
  }

  override render() {
    const b = this.build.first
    if (this.build.error) return html`<p class="error" role="alert">${this.build.error}</p>`
    if (!b) return html`<p class="muted">Loading…</p>`
    const id = b.buildid as number
    const builder = this.builder.first
    const props = (this.properties.first ?? {}) as Record<string, unknown>
    const parent = this.buildset.first?.parent_buildid as number | null | undefined
    const isEval = prop(props, 'nix_attribute') !== undefined || String(builder?.name ?? '').endsWith('nix-eval')
    const virtualName = prop(props, 'virtual_builder_name')
    return html`
      <nav aria-label="Breadcrumb"><a href="#/builders">Builders</a> /
        <a href=${builderHref(b.builderid as number)}>${builder?.name ?? b.builderid}</a> /</nav>
      <div class="row" style="justify-content: space-between">
        <h1>${virtualName ?? builder?.name ?? 'Build'} #${b.number}</h1>
        <div class="row">
          ${!b.complete ? html`<bb-action label="Stop" action="stop" path="builds/${id}" method="stop"></bb-action>` : nothing}
          <bb-action label="Rebuild" action="rebuild" path="builds/${id}" method="rebuild"></bb-action>
        </div>
      </div>
      <p class="row">${resultBadge(b.results, b.complete as boolean)} <span>${b.state_string}</span>
        <span class="muted">started ${formatEpoch(b.started_at)} · ${epochDuration(b.started_at, b.complete_at)}</span></p>
      ${parent ? html`<p>Triggered by <a href=${buildHref(parent)}>build ${parent}</a></p>` : nothing}
      ${this.renderChanges(props)}
      ${isEval ? html`<bb-nix-matrix .buildid=${id} .steps=${this.steps.items}></bb-nix-matrix>` : nothing}
      <h2>Steps</h2>
      <table aria-label="steps">
        <thead><tr><th>#</th><th>Step</th><th>Result</th><th>Duration</th><th>Logs</th></tr></thead>
        <tbody>${[...this.steps.items].sort((x, y) => (x.number as number) - (y.number as number)).map((s) => html`<tr>
          <td>${s.number}</td>
          <td>${s.name}<div class="muted">${s.state_string}</div>
            ${((s.urls as { name: string; url: string }[] | undefined) ?? []).map((u) => html`<a href=${u.url}>${u.name}</a> `)}</td>
          <td>${s.started_at ? resultBadge(s.results, s.complete as boolean) : html`<span class="muted">waiting</span>`}</td>
          <td>${epochDuration(s.started_at, s.complete_at)}</td>
          <td><bb-step-logs .stepid=${s.stepid} .buildid=${id} .number=${s.number}></bb-step-logs></td>
        </tr>`)}</tbody>
      </table>
      ${this.triggered.items.length ? html`<h2>Triggered builds</h2>
        <ul>${this.triggered.items.map((c) => html`<li>${resultBadge(c.results, c.complete as boolean)}
          <a href=${buildHref(c.buildid as number)}>build ${c.buildid}</a> <span class="muted">${c.state_string}</span></li>`)}</ul>` : nothing}
      <h2>Properties</h2>
      <table aria-label="properties" class="mono">
        <thead><tr><th>Name</th><th>Value</th><th class="hide-narrow">Source</th></tr></thead>
        <tbody>${Object.entries(props).sort(([a], [c]) => a.localeCompare(c)).map(([name, v]) => {
          const [value, source] = Array.isArray(v) ? v : [v, '']
          return html`<tr><td>${name}</td><td style="word-break: break-all">${typeof value === 'string' ? value : JSON.stringify(value)}</td>
            <td class="muted hide-narrow">${source}</td></tr>`
        })}</tbody>
      </table>`
  }

  private renderChanges(props: Record<string, unknown>) {
    const changes = this.changes.items
    const revision = prop(props, 'revision') ?? prop(props, 'got_revision')
    if (!changes.length && !revision) return nothing
    return html`<div class="card" aria-label="changes">
      ${changes.map((c) => html`<div class="row"><span class="mono">${String(c.revision ?? '').slice(0, 12)}</span>
        ${c.revlink ? html`<a href=${c.revlink as string}>commit</a>` : nothing}
        <span>${String(c.comments ?? '').split('\n')[0]}</span><span class="muted">${c.author}</span></div>`)}
      ${!changes.length ? html`<span>Revision <span class="mono">${revision}</span></span>` : nothing}
    </div>`
  }
}

customElements.define('bb-build-page', BbBuildPage)
